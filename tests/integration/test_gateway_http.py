"""The http gateway against a real HTTP server on 127.0.0.1, on every path."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from http_server import LoopbackHttpServer, Recorded, Reply

from pbx_sms.config import load_settings
from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms
from pbx_sms.gateways.http import HttpGateway, create
from pbx_sms.gateways.registry import create_gateway

TOKEN = "s3cr3t-token-value"
SMS = OutgoingSms(
    idempotency_key="0f8fad5b-d9cb-469f-a165-70867728950e",
    to="+48601234567",
    sender="ACME",
    text="Zażółć gęślą jaźń — dziękujemy!",
    parts=1,
    encoding="UCS-2",
)


@pytest.fixture
def server() -> Iterator[LoopbackHttpServer]:
    with LoopbackHttpServer() as running:
        yield running


@pytest.fixture
async def gateway(server: LoopbackHttpServer) -> AsyncIterator[HttpGateway]:
    # Roomy: on a busy machine a loopback answer can take a while, and a timeout is not what most tests test.
    gateway = HttpGateway(server.url, token=TOKEN, timeout_s=3)
    yield gateway
    await gateway.close()


async def test_2xx_is_sent_with_the_message_id_and_the_request_is_complete(
    server: LoopbackHttpServer, gateway: HttpGateway
) -> None:
    result = await gateway.send(SMS)
    assert (result.outcome, result.message_id) == ("sent", "msg-1")
    [request] = server.requests
    assert request.method == "POST"
    assert request.json == {"id": SMS.idempotency_key, "to": SMS.to, "from": "ACME", "text": SMS.text}
    assert request.headers["idempotency-key"] == SMS.idempotency_key
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"


async def test_no_token_no_authorization_header(server: LoopbackHttpServer) -> None:
    gateway = HttpGateway(server.url, timeout_s=1)
    try:
        assert (await gateway.send(SMS)).outcome == "sent"
    finally:
        await gateway.close()
    assert "authorization" not in server.requests[0].headers


async def test_message_id_from_a_nested_or_numeric_field(server: LoopbackHttpServer) -> None:
    server.reply(201, {"data": {"sid": 12345}})
    gateway = HttpGateway(server.url, id_field="data.sid", timeout_s=1)
    try:
        result = await gateway.send(SMS)
    finally:
        await gateway.close()
    assert (result.outcome, result.message_id) == ("sent", "12345")


@pytest.mark.parametrize(
    ("reply", "message_id"),
    [
        (Reply(204, b""), None),
        (Reply(200, b"", "text/plain"), None),
        (Reply(200, b'{"status": "ok"}'), None),
        (Reply(200, b'{"id": {"nested": true}}'), None),
        (Reply(200, b'{"id": "m-7", "error": null, "errors": [], "success": true, "status": "queued"}'), "m-7"),
        (Reply(202, b'{"id": 12, "error": 0, "ok": true}'), "12"),
    ],
)
async def test_2xx_empty_or_json_without_an_error_is_sent(
    server: LoopbackHttpServer, gateway: HttpGateway, reply: Reply, message_id: str | None
) -> None:
    server.respond_with(lambda _request: reply)
    result = await gateway.send(SMS)
    assert (result.outcome, result.message_id) == ("sent", message_id)


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": "invalid number"}',
        b'{"error": {"code": 21, "message": "blocked"}}',
        b'{"errors": ["no credit"]}',
        b'{"success": false, "id": "m-1"}',
        b'{"ok": false}',
        b'{"status": "FAILED", "id": "m-2"}',
        b'{"status": "rejected"}',
        b'{"error": true}',
    ],
)
async def test_a_2xx_whose_json_says_error_is_a_permanent_failure_with_the_error(
    server: LoopbackHttpServer, gateway: HttpGateway, body: bytes
) -> None:
    server.reply(200, body.decode())
    result = await gateway.send(SMS)
    assert result.outcome == "permanent" and result.message_id is None
    assert result.reason == f"HTTP 200 with an error: {body.decode()}"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"<html>Access denied by policy</html>", "text/html"),
        Reply(200, b"{not json", "application/json"),
        Reply(202, b'["a", "list"]'),
        Reply(200, b'"sent"'),
        Reply(200, b"\xff\xfe\xfa", "application/json"),
    ],
)
async def test_a_2xx_that_is_not_a_json_object_is_transient_outcome_unknown(
    server: LoopbackHttpServer, gateway: HttpGateway, reply: Reply
) -> None:
    server.respond_with(lambda _request: reply)
    result = await gateway.send(SMS)
    assert result.outcome == "transient"
    assert result.reason is not None and result.reason.startswith(f"HTTP {reply.status} but not a JSON object")


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_server_trouble_and_throttling_are_transient(
    server: LoopbackHttpServer, gateway: HttpGateway, status: int
) -> None:
    server.reply(status, "try later")
    result = await gateway.send(SMS)
    assert result.outcome == "transient"
    assert result.reason == f"HTTP {status}: try later"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_4xx_are_permanent_with_the_servers_reason(
    server: LoopbackHttpServer, gateway: HttpGateway, status: int
) -> None:
    server.reply(status, {"error": "invalid number"})
    result = await gateway.send(SMS)
    assert result.outcome == "permanent"
    assert (
        result.reason is not None and result.reason.startswith(f"HTTP {status}: ") and "invalid number" in result.reason
    )


async def test_a_redirect_is_not_followed_and_fails(server: LoopbackHttpServer, gateway: HttpGateway) -> None:
    server.respond_with(lambda _request: Reply(302, b"moved"))
    result = await gateway.send(SMS)
    assert result.outcome == "permanent"
    assert len(server.requests) == 1


async def test_timeout_is_unclear(server: LoopbackHttpServer) -> None:
    server.hang()
    gateway = HttpGateway(server.url, timeout_s=0.3)
    try:
        result = await gateway.send(SMS)
    finally:
        await gateway.close()
    assert (result.outcome, result.reason) == ("unclear", "no answer within 0.3 s, outcome unknown")


async def test_waiting_for_a_free_connection_past_the_timeout_is_not_sent(server: LoopbackHttpServer) -> None:
    server.hang()
    gateway = HttpGateway(server.url, timeout_s=0.3, max_connections=1)
    try:
        first, second = await asyncio.gather(gateway.send(SMS), gateway.send(SMS))
    finally:
        await gateway.close()
    assert (first.outcome, first.reason) == ("unclear", "no answer within 0.3 s, outcome unknown")
    assert (second.outcome, second.reason) == ("transient", "no connection within 0.15 s, not sent")
    assert len(server.requests) == 1


async def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = HttpGateway(f"http://127.0.0.1:{port}/sms", timeout_s=1)
    try:
        result = await gateway.send(SMS)
    finally:
        await gateway.close()
    assert result.outcome == "transient"
    assert result.reason is not None and result.reason.startswith("connection failed, not sent: ClientConnectorError")


async def close_at_once(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id": "m')
    await writer.drain()
    writer.close()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"SMTP ready\r\n\r\n")
    await writer.drain()
    writer.close()


@pytest.mark.parametrize(
    ("serve", "error"),
    [(close_at_once, "ServerDisconnectedError"), (cut_short, "ClientPayloadError"), (garbage, "ClientResponseError")],
)
async def test_a_connection_lost_after_connecting_is_unclear(
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]], error: str
) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway = HttpGateway(f"http://127.0.0.1:{port}/sms", token=TOKEN, timeout_s=2)
    try:
        result = await gateway.send(SMS)
    finally:
        await gateway.close()
        server.close()
    assert result.outcome == "unclear"
    assert result.reason is not None and result.reason.startswith(f"connection lost, outcome unknown: {error}")
    assert TOKEN not in result.reason


async def test_the_token_never_appears_in_a_result_or_the_log(
    server: LoopbackHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    def echo_token(request: Recorded) -> Reply:
        return Reply(401, f"bad credentials: {request.headers['authorization']}".encode(), "text/plain")

    server.respond_with(echo_token)
    gateway = create_gateway(load_settings(environ={"PBX_SMS_GATEWAY": "http", "PBX_SMS_HTTP_URL": server.url,
                                                    "PBX_SMS_HTTP_TOKEN": TOKEN}))  # fmt: skip
    try:
        with caplog.at_level(logging.DEBUG):
            result = await gateway.send(SMS)
    finally:
        await gateway.close()
    assert result.outcome == "permanent"
    assert result.reason == "HTTP 401: bad credentials: Bearer ***"
    assert TOKEN not in caplog.text


async def test_long_error_bodies_are_cut(server: LoopbackHttpServer, gateway: HttpGateway) -> None:
    server.reply(503, "x" * 5000)
    result = await gateway.send(SMS)
    assert result.reason is not None and len(result.reason) < 300


async def test_concurrent_sends_share_the_client(server: LoopbackHttpServer, gateway: HttpGateway) -> None:
    results = await asyncio.gather(*(gateway.send(SMS) for _ in range(50)))
    assert {result.outcome for result in results} == {"sent"}
    assert len({result.message_id for result in results}) == 50


def test_built_outside_a_loop_and_used_in_one_loop_after_another(server: LoopbackHttpServer) -> None:
    # The registry builds gateways before the daemon's loop runs; a CLI may run several loops.
    gateway = HttpGateway(server.url, timeout_s=3)

    async def send_and_close() -> str:
        try:
            return (await gateway.send(SMS)).outcome
        finally:
            await gateway.close()

    assert [asyncio.run(send_and_close()) for _ in range(2)] == ["sent", "sent"]
    assert len(server.requests) == 2


async def test_close_releases_the_session_and_its_connections(server: LoopbackHttpServer) -> None:
    gateway = HttpGateway(server.url, timeout_s=3)
    assert (await gateway.send(SMS)).outcome == "sent"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await gateway.close()
        del gateway
        gc.collect()
    assert [str(warning.message) for warning in caught if issubclass(warning.category, ResourceWarning)] == []
    async with asyncio.timeout(5):  # the server sees the connection end
        while server._handlers:
            await asyncio.sleep(0.01)


async def test_a_proxy_from_the_environment_is_used_unless_no_proxy_says_otherwise(
    server: LoopbackHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url.removesuffix("/sms"))
    gateway = HttpGateway("http://sms-gateway.invalid/send", timeout_s=3)
    try:
        assert (await gateway.send(SMS)).outcome == "sent"
    finally:
        await gateway.close()
    assert server.requests[0].path == "http://sms-gateway.invalid/send"

    monkeypatch.setenv("NO_PROXY", "sms-gateway.invalid")
    bypassing = HttpGateway("http://sms-gateway.invalid/send", timeout_s=3)
    try:
        result = await bypassing.send(SMS)
    finally:
        await bypassing.close()
    assert result.outcome == "transient" and "not sent" in (result.reason or "")
    assert len(server.requests) == 1


# --- configuration ---------------------------------------------------------------------------


async def test_registry_builds_the_http_gateway_from_settings(server: LoopbackHttpServer) -> None:
    settings = load_settings(
        environ={
            "PBX_SMS_GATEWAY": "http",
            "PBX_SMS_HTTP_URL": server.url,
            "PBX_SMS_HTTP_TOKEN": TOKEN,
            "PBX_SMS_HTTP_ID_FIELD": "ref",
            "PBX_SMS_HTTP_TIMEOUT_S": "2.5",
        }
    )
    server.reply(200, {"ref": "R-1"})
    gateway = create_gateway(settings)
    try:
        assert isinstance(gateway.inner, HttpGateway)
        assert gateway.timeout_s == 2.5
        assert (await gateway.send(SMS)).message_id == "R-1"
    finally:
        await gateway.close()
    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "PBX_SMS_HTTP_URL: required"),
        ({"PBX_SMS_HTTP_URL": "ftp://example.com/x"}, "PBX_SMS_HTTP_URL: expected an http"),
        ({"PBX_SMS_HTTP_URL": "http://h/x", "PBX_SMS_HTTP_TIMEOUT_S": "soon"}, "PBX_SMS_HTTP_TIMEOUT_S: expected"),
        ({"PBX_SMS_HTTP_URL": "http://h/x", "PBX_SMS_HTTP_TIMEOUT_S": "0"}, "PBX_SMS_HTTP_TIMEOUT_S: expected"),
    ],
)
def test_bad_settings_name_the_setting_and_hide_the_token(environ: dict[str, str], message: str) -> None:
    settings = load_settings(environ={"PBX_SMS_HTTP_TOKEN": TOKEN, **environ})
    with pytest.raises(GatewayConfigError, match=message) as caught:
        create(settings)
    assert TOKEN not in str(caught.value)
