"""An install without AMI (PBX_SMS_AMI_ENABLED=false): the daemon texts calls the AGI hook recorded."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ports import free_port
from typer.testing import CliRunner

from pbx_sms.cli.main import app
from pbx_sms.core.call import CompletedCall
from pbx_sms.intake.calls import record_call
from pbx_sms.storage.database import open_database

PBX_SMS = str(Path(sys.executable).with_name("pbx-sms"))
RULES = """
account: default
rules:
  - name: Missed
    when: {direction: in, numbers: all, status: [no_answer]}
    then: {sender: ACME, to: [other_party], text: "Missed you at {time}"}
"""


def wait_for(predicate, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_agi_recorded_call_is_texted_by_a_daemon_without_ami(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pbx-sms.db'}"
    sms_log = tmp_path / "sms.jsonl"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PBX_SMS_")}
    env |= {
        "PBX_SMS_DATABASE_URL": url,
        "PBX_SMS_AMI_ENABLED": "false",
        "PBX_SMS_AMI_PORT": "9",  # nothing listens there: it must not even try
        "PBX_SMS_FASTAGI_PORT": "0",  # a free port: parallel tests must not compete for 4573
        "PBX_SMS_GATEWAY": "log",
        "PBX_SMS_LOG_PATH": str(sms_log),
        "PBX_SMS_METRICS_PORT": str(free_port()),
    }
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    for command in (["senders", "add", "ACME"], ["rules", "import", str(rules)]):
        assert CliRunner().invoke(app, command, env=env).exit_code == 0
    daemon = subprocess.Popen([PBX_SMS, "run"], env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        ended = datetime.now(UTC)
        call = CompletedCall(
            "1800000000.1", "in", "+48221234567", "+48601234567", "no_answer", 0, ended - timedelta(seconds=10), ended
        )
        database = open_database(url)
        try:
            assert record_call(database.engine, call, socket.gethostname(), "agi", ended)
        finally:
            database.close()
        assert wait_for(lambda: sms_log.exists() and sms_log.read_text().strip(), 15), "no SMS sent"
        [line] = sms_log.read_text().splitlines()
        assert json.loads(line)["to"] == "+48601234567"
        status = CliRunner().invoke(app, ["status", "--json"], env=env)
        [running] = json.loads(status.stdout)["daemons"]
        assert running["ami_state"] == "disabled"
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=15)
    assert daemon.returncode == 0, stderr
    assert "AMI listener disabled" in stderr
    assert "cannot connect" not in stderr
