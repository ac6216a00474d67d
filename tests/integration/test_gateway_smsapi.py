"""The smsapi gateway against a real HTTP server on 127.0.0.1 that checks requests as SMSAPI documents them."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from urllib.parse import parse_qs

import pytest
from http_fakes import HttpServer, Reply, Request, unreachable_url

from pbx_sms.config import load_settings
from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms
from pbx_sms.gateways.smsapi import SmsapiGateway, SmsapiSettings, create, interpret_response

TOKEN = "smsapi-sekret-token-0123456789"
POLISH = "Zażółć gęślą jaźń"


@dataclass
class FakeSmsapi:
    """SMSAPI's sms.do as documented: bearer token, form fields, idx/check_idx, JSON answers."""

    token: str = TOKEN
    delivered: list[dict[str, str]] = field(default_factory=list)
    idx_seen: set[str] = field(default_factory=set)
    canned: list[Reply] = field(default_factory=list)
    answer_delay_s: float = 0.0
    # Accept the next message, then drop the connection without an answer.
    drop_after_accept: bool = False
    problems: list[str] = field(default_factory=list)

    async def __call__(self, request: Request) -> Reply:
        if request.method != "POST" or request.target != "/sms.do":
            self.problems.append(f"{request.method} {request.target}")
            return 404, "text/plain", "not found"
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, "application/json", json.dumps({"error": 101, "message": "Authorization failed"})
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            self.problems.append("content type " + request.headers.get("content-type", ""))
        # Strict: a body that is not ASCII percent-encoding of UTF-8 fails the test.
        form = {
            key: values[0]
            for key, values in parse_qs(request.body.decode("ascii"), strict_parsing=True, errors="strict").items()
        }
        if self.canned:
            return self.canned.pop(0)
        for key, expected in (("format", "json"), ("encoding", "utf-8"), ("check_idx", "1")):
            if form.get(key) != expected:
                self.problems.append(f"{key}={form.get(key)!r}")
        idx = form["idx"]
        if idx in self.idx_seen:
            return 200, "application/json", json.dumps({"error": 53, "message": "Not unique idx"})
        self.idx_seen.add(idx)
        self.delivered.append(form)
        message_id = f"5F{len(self.delivered):08d}"
        answer = {
            "count": 1,
            "list": [{"id": message_id, "points": 0.16, "number": form["to"], "status": "QUEUE", "idx": idx}],
        }
        if self.answer_delay_s:
            await asyncio.sleep(self.answer_delay_s)
        if self.drop_after_accept:
            self.drop_after_accept = False
            raise ConnectionResetError("dropped after accepting")
        return 200, "application/json", json.dumps(answer)


def sms(key: str = "0b7e3a52-2f4e-4a0e-9d35-1f7c1c4f0a01", text: str = POLISH) -> OutgoingSms:
    return OutgoingSms(idempotency_key=key, to="+48500100200", sender="Firma", text=text, parts=1, encoding="ucs2")


def gateway(url: str, **overrides: object) -> SmsapiGateway:
    return SmsapiGateway(SmsapiSettings.model_validate({"token": TOKEN, "base_url": url, "timeout_s": 2, **overrides}))


async def test_sends_documented_form_with_bearer_token_and_stores_message_id() -> None:
    fake = FakeSmsapi()
    async with HttpServer(fake) as server:
        gw = gateway(server.url, normalize=True)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == "sent"
    assert result.message_id == "5F00000001"
    assert fake.problems == []
    assert fake.delivered == [
        {
            "to": "48500100200",
            "from": "Firma",
            "message": POLISH,
            "format": "json",
            "encoding": "utf-8",
            "idx": "0b7e3a52-2f4e-4a0e-9d35-1f7c1c4f0a01",
            "check_idx": "1",
            "normalize": "1",
        }
    ]


async def test_same_idempotency_key_twice_is_delivered_once() -> None:
    fake = FakeSmsapi()
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        first = await gw.send(sms())
        second = await gw.send(sms())
        third = await gw.send(sms(key="another-key"))
        await gw.close()
    assert (first.outcome, second.outcome, third.outcome) == ("sent", "sent", "sent")
    assert second.message_id is None
    assert [form["idx"] for form in fake.delivered] == ["0b7e3a52-2f4e-4a0e-9d35-1f7c1c4f0a01", "another-key"]


async def test_answer_lost_after_acceptance_then_retry_does_not_send_twice() -> None:
    fake = FakeSmsapi(answer_delay_s=1.0)
    async with HttpServer(fake) as server:
        gw = gateway(server.url, timeout_s=0.3)
        lost = await gw.send(sms())
        fake.answer_delay_s = 0
        retried = await gw.send(sms())
        await gw.close()
    assert lost.outcome == "unclear"
    assert "outcome unknown" in (lost.reason or "")
    assert retried.outcome == "sent"
    assert len(fake.delivered) == 1


async def test_connection_dropped_after_acceptance_then_retry_does_not_send_twice() -> None:
    fake = FakeSmsapi(drop_after_accept=True)
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        lost = await gw.send(sms())
        retried = await gw.send(sms())
        await gw.close()
    assert lost.outcome == "unclear"
    assert lost.reason == "smsapi: no answer from the API, outcome unknown (ServerDisconnectedError)"
    assert retried.outcome == "sent"
    assert len(fake.delivered) == 1


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        ((200, "application/json", '{"error": 8, "message": "Error in request"}'), "SMSAPI error 8"),
        ((200, "application/json", '{"error": 201, "message": "System internal error"}'), "SMSAPI error 201"),
        ((200, "application/json", '{"error": 203, "message": "Too many requests"}'), "SMSAPI error 203"),
        ((200, "application/json", '{"error": 999, "message": "System internal error"}'), "SMSAPI error 999"),
        ((503, "text/html", "<html>Service Unavailable</html>"), "HTTP 503"),
        ((429, "text/plain", "slow down"), "HTTP 429"),
    ],
)
async def test_transient_failures_are_retried_later(reply: Reply, fragment: str) -> None:
    fake = FakeSmsapi(canned=[reply])
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        failed = await gw.send(sms())
        retried = await gw.send(sms())
        await gw.close()
    assert failed.outcome == "transient"
    assert fragment in (failed.reason or "")
    assert retried.outcome == "sent"
    assert len(fake.delivered) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (11, "Message too long or there is no message"),
        (13, "No correct phone numbers"),
        (14, "Invalid sender field"),
        (57, "Number is on the blacklist"),
        (103, "Not enough points"),
        (105, "Invalid IP address"),
    ],
)
async def test_permanent_error_codes_are_not_retried(code: int, message: str) -> None:
    fake = FakeSmsapi(canned=[(200, "application/json", json.dumps({"error": code, "message": message}))])
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == "permanent"
    assert result.reason == f"SMSAPI error {code}: {message}"
    assert fake.delivered == []


async def test_wrong_token_is_permanent_and_the_token_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeSmsapi(token="the-right-token")
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == "permanent"
    assert result.reason == "SMSAPI error 101: Authorization failed"
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(gw) and TOKEN not in repr(gw.config) and TOKEN not in str(result)


@pytest.mark.parametrize(
    "reply",
    [
        (200, "text/html", "<html><body>Hello from a captive portal</body></html>"),
        (200, "application/json", '{"count": 1, "list": []}'),
        (200, "application/json", '{"error": "banana"}'),
        (302, "text/plain", ""),
    ],
)
async def test_nonsense_answer_is_logged_transient_and_the_gateway_keeps_working(
    reply: Reply, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeSmsapi(canned=[reply])
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        odd = await gw.send(sms())
        fine = await gw.send(sms())
        await gw.close()
    assert odd.outcome == "transient"
    assert "unexpected answer" in (odd.reason or "")
    assert "smsapi: transient" in caplog.text
    assert fine.outcome == "sent" and len(fake.delivered) == 1


async def test_unreachable_api_is_transient_not_sent() -> None:
    gw = gateway(unreachable_url())
    result = await gw.send(sms())
    await gw.close()
    assert result.outcome == "transient"
    assert result.reason == "smsapi: cannot reach the API (ClientConnectorError)"


def test_interpret_response_reads_the_message_id() -> None:
    body = '{"count":1,"list":[{"id":"17FBD3F1A","points":0.16,"number":"48500100200","status":"QUEUE"}]}'
    assert interpret_response(200, body).message_id == "17FBD3F1A"


async def test_notify_url_goes_out_with_each_sms_when_set() -> None:
    notify_url = "https://pbx.example.com/hooks/smsapi/secret-token-0123456789abcdef0123/status"
    fake = FakeSmsapi()
    async with HttpServer(fake) as server:
        gw = gateway(server.url, notify_url=notify_url)
        assert (await gw.send(sms())).outcome == "sent"
        plain = gateway(server.url)
        assert (await plain.send(sms(key="second"))).outcome == "sent"
        await gw.close()
        await plain.close()
    assert [form.get("notify_url") for form in fake.delivered] == [notify_url, None]
    assert "secret-token" not in repr(gw.config)


def test_notify_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="notify_url"):
        SmsapiSettings.model_validate({"token": TOKEN, "notify_url": "ftp://x"})


def test_settings_from_environment_and_errors_name_the_variable() -> None:
    environ = {
        "PBX_SMS_SMSAPI_TOKEN": TOKEN,
        "PBX_SMS_SMSAPI_BASE_URL": "http://127.0.0.1:1",
        "PBX_SMS_SMSAPI_TEST": "1",
        "PBX_SMS_SMSAPI_NOTIFY_URL": "https://pbx.example.com/hooks/smsapi/t/status",
    }
    gw = create(load_settings(environ=environ))
    assert gw.config.notify_url.get_secret_value() == "https://pbx.example.com/hooks/smsapi/t/status"
    assert gw.config.test is True and gw.config.base_url == "http://127.0.0.1:1"
    with pytest.raises(GatewayConfigError, match="PBX_SMS_SMSAPI_TOKEN: required"):
        create(load_settings(environ={}))
    with pytest.raises(GatewayConfigError) as bad:
        create(load_settings(environ={**environ, "PBX_SMS_SMSAPI_BASE_URL": "ftp://x", "PBX_SMS_SMSAPI_TOKN": "x"}))
    assert "PBX_SMS_SMSAPI_BASE_URL" in str(bad.value) and "PBX_SMS_SMSAPI_TOKN: unknown setting" in str(bad.value)
    assert TOKEN not in str(bad.value)


def test_registered_as_entry_point() -> None:
    (entry,) = entry_points(group="pbx_sms.gateways", name="smsapi")
    assert entry.load() is create
