"""The log gateway (default) and the gateway registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pbx_sms.config import load_settings
from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms
from pbx_sms.gateways.log import LogGateway
from pbx_sms.gateways.registry import available_gateways, create_gateway

SMS = OutgoingSms("6d3c4a0e-3c1b-4f5e-9f55-1f2b3c4d5e6f", "+48601234567", "ACME", "Cześć, oddzwonimy!", 1, "UCS-2")


async def test_default_gateway_appends_json_lines_to_the_log_path(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    path.write_text('{"earlier": true}\n', encoding="utf-8")
    gateway = create_gateway(load_settings(environ={"PBX_SMS_LOG_PATH": str(path)}))
    assert isinstance(gateway.inner, LogGateway)
    try:
        first = await gateway.send(SMS)
        await gateway.send(SMS)
    finally:
        await gateway.close()
    assert (first.outcome, first.message_id) == ("sent", SMS.idempotency_key)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and json.loads(lines[0]) == {"earlier": True}
    line = json.loads(lines[1])
    assert {key: line[key] for key in ("id", "to", "from", "text", "encoding", "parts")} == {
        "id": SMS.idempotency_key,
        "to": "+48601234567",
        "from": "ACME",
        "text": "Cześć, oddzwonimy!",
        "encoding": "UCS-2",
        "parts": 1,
    }
    assert "Cześć" in lines[1]  # readable, not \u-escaped


async def test_without_a_path_the_lines_go_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    gateway = create_gateway(load_settings(environ={}))
    await gateway.send(SMS)
    await gateway.close()
    assert json.loads(capsys.readouterr().out)["to"] == "+48601234567"


async def test_an_unwritable_path_is_a_transient_failure(tmp_path: Path) -> None:
    gateway = LogGateway(tmp_path / "missing-dir" / "sms.jsonl")
    result = await gateway.send(SMS)
    assert result.outcome == "transient"
    assert result.reason is not None and "PBX_SMS_LOG_PATH" in result.reason


def test_registry_lists_builtin_gateways_and_rejects_unknown_names() -> None:
    assert {"log", "http"} <= set(available_gateways())
    with pytest.raises(GatewayConfigError) as caught:
        create_gateway(load_settings(environ={"PBX_SMS_GATEWAY": "carrier-pigeon"}))
    message = str(caught.value)
    assert "unknown gateway 'carrier-pigeon'" in message
    assert "http" in message and "log" in message
