"""The twilio gateway against a real HTTP server on 127.0.0.1 that behaves as Twilio documents the Messages API."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from importlib.metadata import entry_points
from urllib.parse import parse_qs, urlsplit

import pytest
from http_fakes import HttpServer, Reply, Request, unreachable_url

from pbx_sms.config import load_settings
from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms
from pbx_sms.gateways.twilio import TwilioGateway, TwilioSettings, create

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-sekret-42"
POLISH = "Zażółć gęślą jaźń"
MESSAGES_PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"


@dataclass
class FakeTwilio:
    """Twilio's Messages resource: basic auth, form fields, JSON errors; no server-side deduplication."""

    token: str = TOKEN
    created: list[dict[str, str]] = field(default_factory=list)
    idempotency_tokens: list[str] = field(default_factory=list)
    canned: list[Reply] = field(default_factory=list)
    # Create the message, then answer with this status instead of 201 (a lost answer).
    fail_after_create: int | None = None
    answer_delay_s: float = 0.0
    # Create the next message, then drop the connection without an answer.
    drop_after_create: bool = False
    # Create the next message, then answer 200 with this HTML page (a proxy's or WAF's page).
    html_after_create: str | None = None
    # Answer the Messages list with this status instead of a page.
    list_status: int | None = None
    list_calls: int = 0

    def error(self, status: int, code: int, message: str) -> Reply:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return status, "application/json", json.dumps({**body, "status": status})

    async def __call__(self, request: Request) -> Reply:
        expected = "Basic " + base64.b64encode(f"{SID}:{self.token}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return self.error(401, 20003, "Authenticate")
        url = urlsplit(request.target)
        if url.path != MESSAGES_PATH:
            return self.error(404, 20404, "The requested resource was not found")
        if request.method == "GET":
            self.list_calls += 1
            if self.list_status is not None:
                return self.error(self.list_status, 20503, "Service unavailable")
            to = parse_qs(url.query)["To"][0]
            page = [message for message in reversed(self.created) if message["to"] == to]
            return 200, "application/json", json.dumps({"messages": page, "page_size": 50})
        form = {
            key: values[0]
            for key, values in parse_qs(request.body.decode("ascii"), strict_parsing=True, errors="strict").items()
        }
        self.idempotency_tokens.append(request.headers.get("i-twilio-idempotency-token", ""))
        if self.canned:
            return self.canned.pop(0)
        if not form.get("To", "").startswith("+"):
            return self.error(400, 21211, f"The 'To' number {form.get('To')} is not a valid phone number.")
        message = {
            "sid": f"SM{len(self.created) + 1:032x}",
            "to": form["To"],
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"],
            "status_callback": form.get("StatusCallback"),
            "status": "queued",
            "date_created": format_datetime(datetime.now(UTC), usegmt=False),
        }
        self.created.append(message)
        if self.answer_delay_s:
            await asyncio.sleep(self.answer_delay_s)
        if self.drop_after_create:
            self.drop_after_create = False
            raise ConnectionResetError("dropped after creating")
        if self.html_after_create is not None:
            page, self.html_after_create = self.html_after_create, None
            return 200, "text/html", page
        if self.fail_after_create is not None:
            status, self.fail_after_create = self.fail_after_create, None
            return self.error(status, 20500, "Internal Server Error")
        return 201, "application/json", json.dumps(message)


def sms(key: str = "5b1f0c0e-8d5e-4d43-9a5e-2f3c7b9d1e11", text: str = POLISH, to: str = "+48500100200") -> OutgoingSms:
    return OutgoingSms(idempotency_key=key, to=to, sender="+48226000000", text=text, parts=1, encoding="ucs2")


def gateway(url: str, **overrides: object) -> TwilioGateway:
    values = {"account_sid": SID, "auth_token": TOKEN, "base_url": url, "timeout_s": 2, **overrides}
    return TwilioGateway(TwilioSettings.model_validate(values))


async def test_sends_to_from_body_with_basic_auth_and_stores_the_sid() -> None:
    fake = FakeTwilio()
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == "sent"
    assert result.message_id == "SM" + "0" * 31 + "1"
    assert [(m["to"], m["from"], m["body"]) for m in fake.created] == [("+48500100200", "+48226000000", POLISH)]
    assert fake.idempotency_tokens == ["5b1f0c0e-8d5e-4d43-9a5e-2f3c7b9d1e11"]


async def test_messaging_service_replaces_from() -> None:
    fake = FakeTwilio()
    service = "MG" + "f" * 32
    async with HttpServer(fake) as server:
        gw = gateway(server.url, messaging_service_sid=service)
        assert (await gw.send(sms())).outcome == "sent"
        await gw.close()
    assert fake.created[0]["from"] is None and fake.created[0]["messaging_service_sid"] == service


@pytest.mark.parametrize("unclear", ["http_500", "timeout", "connection_dropped", "cancelled"])
async def test_retry_after_an_unclear_answer_finds_the_earlier_message_instead_of_sending_twice(unclear: str) -> None:
    fake = FakeTwilio()
    if unclear == "http_500":
        fake.fail_after_create = 500
    elif unclear == "connection_dropped":
        fake.drop_after_create = True
    else:
        fake.answer_delay_s = 1.0
    async with HttpServer(fake) as server:
        gw = gateway(server.url, timeout_s=0.3 if unclear == "timeout" else 2)
        if unclear == "cancelled":
            # As the worker's own timeout or a shutdown does: the send is cancelled from outside.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await gw.send(sms())
            first = None
        else:
            first = await gw.send(sms())
        fake.answer_delay_s = 0
        retried = await gw.send(sms())
        await gw.close()
    if first is not None:
        assert first.outcome == "unclear"
        assert "outcome unknown" in (first.reason or "") or "Twilio error 20500" in (first.reason or "")
    assert retried.outcome == "sent"
    assert retried.message_id == fake.created[0]["sid"]
    assert len(fake.created) == 1
    assert fake.list_calls == 1


async def test_retry_after_an_unclear_answer_sends_when_nothing_went_out() -> None:
    fake = FakeTwilio(canned=[(502, "text/html", "<html>Bad Gateway</html>")])
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        first = await gw.send(sms())
        retried = await gw.send(sms())
        again = await gw.send(sms(key="other"))
        await gw.close()
    assert first.outcome == "unclear" and "HTTP 502" in (first.reason or "")
    assert retried.outcome == "sent" and again.outcome == "sent"
    assert len(fake.created) == 2
    assert fake.list_calls == 1  # only the unclear key is checked


async def test_an_unclear_attempt_that_cannot_be_checked_is_not_sent_blind() -> None:
    fake = FakeTwilio(fail_after_create=504)
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        await gw.send(sms())
        fake.list_status = 503
        unchecked = await gw.send(sms())
        fake.list_status = None
        checked = await gw.send(sms())
        await gw.close()
    assert unchecked.outcome == "transient"
    assert unchecked.reason == "twilio: cannot check whether an earlier attempt was sent (HTTP 503)"
    assert checked.outcome == "sent" and checked.message_id == fake.created[0]["sid"]
    assert len(fake.created) == 1 and fake.list_calls == 2


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, 20429), (503, 20503)],
)
async def test_transient_errors_retry_without_a_lookup(status: int, code: int) -> None:
    fake = FakeTwilio()
    fake.canned = [fake.error(status, code, "Too many requests")]
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        failed = await gw.send(sms())
        retried = await gw.send(sms())
        await gw.close()
    assert failed.outcome == "transient" and f"Twilio error {code}" in (failed.reason or "")
    assert retried.outcome == "sent" and len(fake.created) == 1 and fake.list_calls == 0


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, 21211), (400, 21614), (400, 21610), (400, 30004), (400, 30005), (400, 30006), (400, 30007), (400, 21408)],
)
async def test_permanent_errors_are_not_retried(status: int, code: int) -> None:
    fake = FakeTwilio()
    fake.canned = [fake.error(status, code, "refused")]
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == "permanent"
    assert result.reason == f"Twilio error {code}: refused"


async def test_invalid_number_is_permanent() -> None:
    fake = FakeTwilio()
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        result = await gw.send(sms(to="500100200"))
        await gw.close()
    assert result.outcome == "permanent" and (result.reason or "").startswith("Twilio error 21211")


async def test_bad_credentials_are_permanent_and_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeTwilio(token="another-token")
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == "permanent" and result.reason == "Twilio error 20003: Authenticate"
    basic = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    for secret in (TOKEN, basic):
        assert secret not in caplog.text and secret not in repr(gw) and secret not in repr(gw.config)


@pytest.mark.parametrize(
    "reply",
    [(201, "text/plain", "OK!"), (200, "application/json", '{"status": "queued"}'), (500, "text/html", "<h1>")],
)
async def test_nonsense_is_logged_and_survived(reply: Reply, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTwilio(canned=[reply])
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        odd = await gw.send(sms())
        fine = await gw.send(sms(key="next"))
        await gw.close()
    # Each may have created a message: unclear, looked up before the key is sent again.
    assert odd.outcome == "unclear"
    assert "twilio: unclear" in caplog.text
    assert fine.outcome == "sent"


async def test_a_200_html_page_is_unclear_and_the_retry_looks_up_instead_of_posting_again() -> None:
    fake = FakeTwilio(html_after_create="<html><body>Request accepted</body></html>")
    async with HttpServer(fake) as server:
        gw = gateway(server.url)
        first = await gw.send(sms())
        retried = await gw.send(sms())
        await gw.close()
    assert first.outcome == "unclear" and "unexpected answer" in (first.reason or "")
    assert retried.outcome == "sent" and retried.message_id == fake.created[0]["sid"]
    # One POST (before: two, the second sent blind), then one look-up.
    assert (len(fake.created), len(fake.idempotency_tokens), fake.list_calls) == (1, 1, 1)


async def test_after_a_restart_the_outbox_says_the_attempt_was_unclear_and_the_gateway_looks_up() -> None:
    fake = FakeTwilio(fail_after_create=504)
    async with HttpServer(fake) as server:
        first_process = gateway(server.url)
        started = datetime.now(UTC)
        assert (await first_process.send(sms())).outcome == "unclear"
        await first_process.close()
        restarted = gateway(server.url)
        retried = await restarted.send(replace(sms(), unclear_since=started))
        await restarted.close()
    assert retried.outcome == "sent" and retried.message_id == fake.created[0]["sid"]
    assert (len(fake.created), fake.list_calls) == (1, 1)


async def test_unreachable_api_is_transient() -> None:
    gw = gateway(unreachable_url())
    result = await gw.send(sms())
    await gw.close()
    assert (result.outcome, result.reason) == ("transient", "twilio: cannot reach the API (ClientConnectorError)")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, None),
        ({"PBX_SMS_WEB_PUBLIC_URL": "https://pbx.example.com"}, "https://pbx.example.com/hooks/twilio/status"),
        (
            {
                "PBX_SMS_WEB_PUBLIC_URL": "https://pbx.example.com",
                "PBX_SMS_TWILIO_STATUS_CALLBACK": "https://x.example/s",
            },
            "https://x.example/s",
        ),
    ],
)
async def test_status_callback_goes_out_from_the_public_url_or_the_explicit_setting(
    extra: dict[str, str], expected: str | None
) -> None:
    fake = FakeTwilio()
    async with HttpServer(fake) as server:
        environ = {"PBX_SMS_TWILIO_ACCOUNT_SID": SID, "PBX_SMS_TWILIO_AUTH_TOKEN": TOKEN, **extra}
        gw = create(load_settings(environ={**environ, "PBX_SMS_TWILIO_BASE_URL": server.url}))
        assert (await gw.send(sms())).outcome == "sent"
        await gw.close()
    assert [message["status_callback"] for message in fake.created] == [expected]


def test_settings_errors_name_the_variable_never_the_token() -> None:
    environ = {"PBX_SMS_TWILIO_ACCOUNT_SID": SID, "PBX_SMS_TWILIO_AUTH_TOKEN": TOKEN}
    gw = create(load_settings(environ=environ))
    assert gw.config.base_url == "https://api.twilio.com"
    with pytest.raises(GatewayConfigError) as bad:
        create(load_settings(environ={**environ, "PBX_SMS_TWILIO_ACCOUNT_SID": "nope"}))
    assert "PBX_SMS_TWILIO_ACCOUNT_SID" in str(bad.value) and TOKEN not in str(bad.value)
    with pytest.raises(GatewayConfigError, match="PBX_SMS_TWILIO_AUTH_TOKEN: required"):
        create(load_settings(environ={"PBX_SMS_TWILIO_ACCOUNT_SID": SID}))


def test_registered_as_entry_point() -> None:
    (entry,) = entry_points(group="pbx_sms.gateways", name="twilio")
    assert entry.load() is create
