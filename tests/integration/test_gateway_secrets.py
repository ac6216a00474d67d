"""No configured secret, in any of its forms, reaches the database or a log line, for every gateway.

Each gateway is built by the registry from settings, as the daemon builds it, and run by the outbox
worker on SQLite and PostgreSQL against a loopback server that echoes the request (headers, body,
SMTP AUTH, the AMI login) into its error answer, as an upstream proxy or WAF error page does. The
first attempt is transient (``last_error``), the second gives up (``reason``); the rows and every
log line (written by the daemon's own handler, text and JSON) are searched for the secret, its
base64 alone and paired with each identity (HTTP Basic, SMTP AUTH PLAIN) and its URL encoding.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from http_server import LoopbackHttpServer, Recorded, Reply
from outbox_world import sms, sql_world
from ports import free_port

from pbx_sms.config import load_settings
from pbx_sms.core.sms_status import Status
from pbx_sms.gateways.base import OutgoingSms
from pbx_sms.gateways.registry import create_gateway
from pbx_sms.logs import log_handler
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.model import OutboxRow
from pbx_sms.outbox.retry import RetryPolicy
from pbx_sms.outbox.worker import OutboxWorker

TOKEN = "tok-9f8e7d6c5b4a3210fedcba98"
SID = "AC0123456789abcdef0123456789abcdef"
SMTP_USER = "pbx@firma.example"
AMI_USER = "pbx-sms-send"
TWO_ATTEMPTS = RetryPolicy(base_delay_s=0.05, max_delay_s=0.1, max_attempts=2, max_age_s=600)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forms_of(secret: str, *identities: str) -> list[str]:
    """What must appear nowhere: the secret as sent in headers, bodies and AUTH exchanges."""
    found = [secret, b64(secret).rstrip("="), quote(secret, safe="")]
    for identity in identities:
        found += [b64(f"{identity}:{secret}").rstrip("="), b64(f"\0{identity}\0{secret}").rstrip("=")]
    return found


def echo_page(request: Recorded) -> str:
    """A WAF's error page quoting the request: Authorization first, as the excerpt is cut."""
    headers = sorted(request.headers.items(), key=lambda item: item[0] != "authorization")
    lines = "\n".join(f"{name}: {value}" for name, value in headers)
    return f"<html><h1>Request blocked</h1><pre>{lines}\n\n{request.body.decode()}</pre></html>"


@dataclass
class Echo:
    settings: dict[str, str]
    secret: str
    identities: tuple[str, ...]


@pytest.fixture
def http_echo() -> Iterator[LoopbackHttpServer]:
    with LoopbackHttpServer() as server:
        server.respond_with(lambda request: Reply(503, echo_page(request).encode(), "text/html"))
        yield server


def http_base(server: LoopbackHttpServer) -> str:
    return server.url.removesuffix("/sms")


class EchoingRelay:
    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        return "250 OK"


def echoing_authenticator(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    assert isinstance(data, LoginPassword)
    login, password = data.login.decode(), data.password.decode()
    plain = b64(f"\0{login}\0{password}")
    message = f"454 4.7.0 Temporary authentication failure for {login}:{password} (AUTH {mechanism} {plain})"
    return AuthResult(success=False, handled=False, message=message)


@pytest.fixture
def smtp_echo() -> Iterator[int]:
    port = free_port()
    controller = Controller(
        EchoingRelay(),
        hostname="127.0.0.1",
        port=port,
        authenticator=echoing_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    yield port
    controller.stop()


@contextlib.asynccontextmanager
async def ami_echo(refuse_login: bool) -> AsyncIterator[int]:
    """Accepts the login (or refuses it quoting it); refuses every MessageSend quoting the login."""

    sessions: set[asyncio.Task[Any]] = set()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        sessions.add(task)
        writer.write(b"Asterisk Call Manager/5.0.1\r\n")
        login = ""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode()
                headers = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
                action, action_id = headers.get("Action"), headers.get("ActionID", "")
                quoted = f"Username: {headers.get('Username')} Secret: {headers.get('Secret')}"
                if action == "Login" and refuse_login:
                    reply = f"Response: Error\r\nActionID: {action_id}\r\nMessage: Authentication failed ({quoted})"
                elif action == "Login":
                    login = quoted
                    reply = f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted"
                else:
                    reply = f"Response: Error\r\nActionID: {action_id}\r\nMessage: Message failed to send. ({login})"
                writer.write(reply.encode() + b"\r\n\r\n")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        # The gateway has logged off: each session ends at its end of file.
        await asyncio.wait_for(asyncio.gather(*sessions), 10)
        await server.wait_closed()


@pytest.fixture
def daemon_log() -> Iterator[Callable[[], str]]:
    """Every log line as the daemon writes it (its own handler and formatters), text and JSON."""
    streams = [io.StringIO(), io.StringIO()]
    handlers = [log_handler(streams[0], "text"), log_handler(streams[1], "json")]
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    yield lambda: "\n".join(stream.getvalue() for stream in streams)
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(level)


async def run_until_failed(database_url: str, environ: dict[str, str]) -> tuple[OutboxRow, str]:
    """One SMS through the registry's gateway and a worker: the final row, and last_error on the way."""
    gateway = create_gateway(load_settings(environ=environ))
    with sql_world(database_url) as world:
        account = world.account()
        start = time.time()
        world.store.enqueue([sms(account, to="+48601000001", due_at=datetime.now(UTC))], datetime.now(UTC))
        worker = OutboxWorker(world.store, gateway, WorkerConfig(poll_s=0.1, retry=TWO_ATTEMPTS))
        task = asyncio.create_task(worker.run())
        last_errors: set[str] = set()
        try:
            while True:
                (row,) = world.store.list()
                if row.last_error:
                    last_errors.add(row.last_error)
                if row.status == Status.FAILED:
                    break
                assert time.time() - start < 30, f"still {row.status} after 30 s"
                await asyncio.sleep(0.02)
        finally:
            worker.stop()
            await asyncio.wait_for(task, 10)
            await gateway.close()
    return row, "\n".join(sorted(last_errors))


def assert_nowhere(texts: dict[str, str], forms: list[str]) -> None:
    for where, text in texts.items():
        for form in forms:
            assert form.lower() not in text.lower(), f"{form!r} found in {where}: {text[:2000]}"


async def check_gateway(database_url: str, echo: Echo, daemon_log: Callable[[], str]) -> OutboxRow:
    row, last_errors = await run_until_failed(database_url, echo.settings)
    assert row.reason is not None and "***" in row.reason, row.reason  # the echo was there, redacted
    assert "***" in last_errors, last_errors
    texts = {"reason": row.reason, "last_error": last_errors, "row": repr(row.to_json()), "log": daemon_log()}
    assert_nowhere(texts, forms_of(echo.secret, *echo.identities))
    return row


async def test_http(database_url: str, http_echo: LoopbackHttpServer, daemon_log: Callable[[], str]) -> None:
    settings = {"PBX_SMS_GATEWAY": "http", "PBX_SMS_HTTP_URL": http_echo.url, "PBX_SMS_HTTP_TOKEN": TOKEN}
    row = await check_gateway(database_url, Echo(settings, TOKEN, ()), daemon_log)
    assert "Bearer ***" in (row.reason or "")


async def test_smsapi(database_url: str, http_echo: LoopbackHttpServer, daemon_log: Callable[[], str]) -> None:
    settings = {"PBX_SMS_GATEWAY": "smsapi", "PBX_SMS_SMSAPI_BASE_URL": http_base(http_echo)}
    row = await check_gateway(database_url, Echo({**settings, "PBX_SMS_SMSAPI_TOKEN": TOKEN}, TOKEN, ()), daemon_log)
    assert "Bearer ***" in (row.reason or "")


async def test_smsapi_an_excerpt_cut_inside_the_token(
    database_url: str, http_echo: LoopbackHttpServer, daemon_log: Callable[[], str]
) -> None:
    # The reason keeps 199 characters of the page: pad it so that the cut falls 12 characters into the token.
    padding = "x" * (199 - len("Authorization: Bearer ") - 12)
    http_echo.respond_with(
        lambda request: Reply(503, f"{padding}Authorization: {request.headers['authorization']}".encode())
    )
    settings = {"PBX_SMS_GATEWAY": "smsapi", "PBX_SMS_SMSAPI_BASE_URL": http_base(http_echo)}
    row = await check_gateway(database_url, Echo({**settings, "PBX_SMS_SMSAPI_TOKEN": TOKEN}, TOKEN, ()), daemon_log)
    assert TOKEN[:12] not in (row.reason or "") and (row.reason or "").endswith("Bearer ***…")


async def test_twilio(database_url: str, http_echo: LoopbackHttpServer, daemon_log: Callable[[], str]) -> None:
    settings = {
        "PBX_SMS_GATEWAY": "twilio",
        "PBX_SMS_TWILIO_ACCOUNT_SID": SID,
        "PBX_SMS_TWILIO_AUTH_TOKEN": TOKEN,
        "PBX_SMS_TWILIO_BASE_URL": http_base(http_echo),
    }
    assert http_echo.requests == []
    row = await check_gateway(database_url, Echo(settings, TOKEN, (SID,)), daemon_log)
    assert "Basic ***" in (row.reason or "")
    assert http_echo.requests[0].headers["authorization"] == f"Basic {b64(f'{SID}:{TOKEN}')}"


async def test_smtp(database_url: str, smtp_echo: int, daemon_log: Callable[[], str]) -> None:
    settings = {
        "PBX_SMS_GATEWAY": "smtp",
        "PBX_SMS_SMTP_HOST": "127.0.0.1",
        "PBX_SMS_SMTP_PORT": str(smtp_echo),
        "PBX_SMS_SMTP_TLS": "none",
        "PBX_SMS_SMTP_USERNAME": SMTP_USER,
        "PBX_SMS_SMTP_PASSWORD": TOKEN,
        "PBX_SMS_SMTP_FROM_ADDRESS": SMTP_USER,
        "PBX_SMS_SMTP_TO_TEMPLATE": "{to_digits}@sms.example.com",
        "PBX_SMS_SMTP_TIMEOUT_S": "5",
    }
    row = await check_gateway(database_url, Echo(settings, TOKEN, (SMTP_USER,)), daemon_log)
    assert f"{SMTP_USER}:***" in (row.reason or "")


async def test_ami(database_url: str, daemon_log: Callable[[], str]) -> None:
    async with ami_echo(refuse_login=False) as port:
        settings = {
            "PBX_SMS_GATEWAY": "ami",
            "PBX_SMS_AMI_SEND_HOST": "127.0.0.1",
            "PBX_SMS_AMI_SEND_PORT": str(port),
            "PBX_SMS_AMI_SEND_USERNAME": AMI_USER,
            "PBX_SMS_AMI_SEND_SECRET": TOKEN,
            "PBX_SMS_AMI_SEND_MODE": "messagesend",
            "PBX_SMS_AMI_SEND_ACTION_TIMEOUT_S": "5",
        }
        row = await check_gateway(database_url, Echo(settings, TOKEN, (AMI_USER,)), daemon_log)
    assert "Secret: ***" in (row.reason or "")


async def test_ami_login_refused_quoting_the_secret(daemon_log: Callable[[], str]) -> None:
    async with ami_echo(refuse_login=True) as port:
        environ = {
            "PBX_SMS_GATEWAY": "ami",
            "PBX_SMS_AMI_SEND_PORT": str(port),
            "PBX_SMS_AMI_SEND_USERNAME": AMI_USER,
            "PBX_SMS_AMI_SEND_SECRET": TOKEN,
            "PBX_SMS_AMI_SEND_MODE": "messagesend",
        }
        gateway = create_gateway(load_settings(environ=environ))
        try:
            result = await gateway.send(
                OutgoingSms("1d9b7c2e-5f3a-4e8d-9c1b-2a3f4e5d6c7b", "+48601000001", "", "Hi", 1, "gsm7")
            )
        finally:
            await gateway.close()
    assert result.outcome == "permanent" and "Secret: ***" in (result.reason or "")
    assert_nowhere({"reason": result.reason or "", "log": daemon_log()}, forms_of(TOKEN, AMI_USER))
