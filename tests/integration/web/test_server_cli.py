"""`pbx-sms web`'s options and settings: where it listens, and a refusal it words itself."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from ports import free_port
from typer.testing import CliRunner

from pbx_sms.cli.main import app
from pbx_sms.web.context import WebContext
from pbx_sms.web.server import listening_socket


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Where `web` would serve (host, port), instead of serving."""
    calls: list[tuple[str, int]] = []

    def _record(_context: WebContext, host: str, port: int) -> None:
        calls.append((host, port))

    monkeypatch.setattr("pbx_sms.web.server.serve", _record)
    monkeypatch.setattr("pbx_sms.logs.setup_logging", lambda *_args, **_kwargs: None)
    return calls


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    return {"PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'pbx-sms.db'}"} | {
        f"PBX_SMS_WEB_{key.upper()}": value for key, value in settings.items()
    }


def test_defaults_then_settings_then_options(served: list[tuple[str, int]], tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["web"], env=_env(tmp_path)).exit_code == 0
    assert runner.invoke(app, ["web"], env=_env(tmp_path, host="::1", port="9001")).exit_code == 0
    options = ["web", "--host", "127.0.0.2", "--port", "9002"]
    assert runner.invoke(app, options, env=_env(tmp_path, host="::1", port="9001")).exit_code == 0
    assert served == [("127.0.0.1", 8080), ("::1", 9001), ("127.0.0.2", 9002)]


def test_a_port_in_use_is_one_line_naming_it_and_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pbx_sms.logs.setup_logging", lambda *_args, **_kwargs: None)
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        result = CliRunner().invoke(app, ["web", "--port", str(port)], env=_env(tmp_path))
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: cannot listen on host '127.0.0.1' port {port}: Address already in use "
        "(set --host/--port or PBX_SMS_WEB_HOST/PBX_SMS_WEB_PORT)"
    )


def test_a_bad_setting_is_refused_before_anything_listens(served: list[tuple[str, int]], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["web"], env=_env(tmp_path, port="0"))
    assert result.exit_code == 1
    assert "PBX_SMS_WEB_PORT" in result.output
    assert served == []


def test_the_listening_socket_says_tcp_so_asyncio_turns_nagle_off() -> None:
    # asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP (accepted connections
    # inherit it): with proto 0 every answer waited ~40 ms for the client's delayed ACK (bench/web.py).
    sock = listening_socket("127.0.0.1", 0)
    with sock, socket.create_connection(sock.getsockname()[:2]):
        accepted, _peer = sock.accept()
        with accepted:
            assert accepted.proto == socket.IPPROTO_TCP
