"""Secret redaction: the forms (pbx_sms.core.redaction), what the registry collects and wraps
(pbx_sms.gateways.redaction), and the log formatter (pbx_sms.logs)."""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from pbx_sms.config import load_settings
from pbx_sms.core.redaction import Redactor, hide_database_details, redactor_for
from pbx_sms.gateways.base import OutgoingSms, SendResult
from pbx_sms.gateways.redaction import RedactingGateway, gateway_redactor
from pbx_sms.gateways.registry import create_gateway
from pbx_sms.logs import log_handler, redact_in_logs

SECRET = 'pa55:w/rd+ü"<&>x y'
USER = "AC0123456789abcdef0123456789abcdef"
SMS = OutgoingSms("5b0b7d1e-8c0a-4b8f-9a55-3c2d1e0f9a8b", "+48601234567", "ACME", "Hi", 1, "gsm7")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        SECRET.upper(),
        quote(SECRET, safe=""),
        quote(SECRET, safe="").lower(),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
        html.escape(SECRET),
        b64(SECRET),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
        b64(f"{USER}:{SECRET}"),
        b64(f"\0{USER}\0{SECRET}"),
    ],
)
def test_every_form_of_a_secret_is_redacted(form: str) -> None:
    redactor = redactor_for([SECRET], [USER])
    assert redactor.redact(f"echo: [{form}] end.") == "echo: [***] end."


def test_a_cut_through_a_secret_leaves_none_of_it() -> None:
    redactor = redactor_for(["abcdefghijklmnop"], [USER])
    assert redactor.redact("Authorization: Bearer abcdefg…") == "Authorization: Bearer ***…"
    assert redactor.redact("Authorization: Bearer abcdefg") == "Authorization: Bearer ***"
    basic = b64(f"{USER}:abcdefghijklmnop")
    assert redactor.redact(f"Basic {basic[:30]}… and more") == "Basic ***… and more"
    # Two characters say nothing, and the start of a secret inside a text is just text.
    assert redactor.redact("tab") == "tab" and redactor.redact("abcd efg") == "abcd efg"


def test_no_secret_no_change() -> None:
    assert not Redactor() and Redactor().redact("Bearer x") == "Bearer x"
    assert not redactor_for(["", ""]) and redactor_for([""], ["user"]).redact("user") == "user"
    merged = redactor_for(["one-secret"]) | redactor_for(["two-secret"])
    assert merged.redact("one-secret two-secret") == "*** ***"


def test_the_registry_collects_every_configured_secret() -> None:
    settings = load_settings(
        environ={
            "PBX_SMS_GATEWAY": "twilio",
            "PBX_SMS_TWILIO_ACCOUNT_SID": USER,
            "PBX_SMS_TWILIO_AUTH_TOKEN": "twilio-auth-token",
            "PBX_SMS_AMI_SECRET": "listener-ami-secret",
            "PBX_SMS_DATABASE_URL": "postgresql://pbx:db-pa55@db.example/pbx",
            "PBX_SMS_SMSAPI_TOKEN": "unused-smsapi-token",
        }
    )
    gateway = create_gateway(settings)
    assert isinstance(gateway, RedactingGateway)
    text = (
        f"twilio-auth-token listener-ami-secret db-pa55 unused-smsapi-token "
        f"{b64(f'{USER}:twilio-auth-token')} {b64('pbx-sms:listener-ami-secret')}"
    )
    assert gateway.redactor.redact(text) == " ".join(["***"] * 6)
    assert gateway_redactor(settings, "twilio", None).redact("twilio-auth-token") == "***"


class LeakyGateway:
    name = "leaky"
    timeout_s = 3.0
    max_concurrency = 7
    local_to_pbx = True

    def __init__(self, result: SendResult | None) -> None:
        self.result = result
        self.closed = False

    async def send(self, sms: OutgoingSms) -> SendResult:
        if self.result is None:
            raise RuntimeError(f"header Authorization: Bearer {SECRET} refused")
        return self.result

    async def close(self) -> None:
        self.closed = True


async def test_results_are_redacted_and_the_rest_is_the_gateways() -> None:
    inner = LeakyGateway(SendResult.transient(f"HTTP 502: {b64(SECRET)}"))
    gateway = RedactingGateway(inner, redactor_for([SECRET]))
    assert (gateway.name, gateway.timeout_s, gateway.max_concurrency, gateway.local_to_pbx) == ("leaky", 3.0, 7, True)
    assert await gateway.send(SMS) == SendResult.transient("HTTP 502: ***")
    inner.result = SendResult.sent(f"id-{SECRET}")
    assert await gateway.send(SMS) == SendResult.sent("id-***")
    await gateway.close()
    assert inner.closed


async def test_a_gateway_that_raises_is_transient_and_its_traceback_logged_redacted() -> None:
    stream = io.StringIO()
    handler = log_handler(stream, "json")
    logging.getLogger().addHandler(handler)
    redactor = redactor_for([SECRET])
    redact_in_logs(redactor)
    try:
        result = await RedactingGateway(LeakyGateway(None), redactor).send(SMS)
    finally:
        logging.getLogger().removeHandler(handler)
    assert result == SendResult.transient("gateway error: RuntimeError: header Authorization: Bearer *** refused")
    entry = json.loads(stream.getvalue())
    assert entry["message"] == f"gateway leaky failed on SMS {SMS.idempotency_key}"
    assert "RuntimeError: header Authorization: Bearer *** refused" in entry["exception"]
    assert SECRET not in stream.getvalue() and json.dumps(SECRET)[1:-1] not in stream.getvalue()


def test_log_lines_are_redacted_in_text_and_json_message_arguments_and_extra_fields() -> None:
    redact_in_logs(redactor_for(["log-only-secret-42"]))
    for log_format in ("text", "json"):
        stream = io.StringIO()
        logger = logging.getLogger("pbx_sms.test.redaction")
        logger.addHandler(handler := log_handler(stream, log_format))
        logger.propagate = False
        try:
            logger.warning("got %s", "log-only-secret-42", extra={"error": "Bearer log-only-secret-42"})
        finally:
            logger.removeHandler(handler)
            logger.propagate = True
        assert "log-only-secret-42" not in stream.getvalue() and "***" in stream.getvalue()


def test_database_details_are_hidden_but_the_error_stays() -> None:
    text = (
        '(psycopg.errors.NotNullViolation) null value in column "n" violates not-null constraint\n'
        "DETAIL:  Failing row contains (1, +48601234567, null).\n"
        "[SQL: INSERT INTO probe ...]"
    )
    hidden = hide_database_details(text)
    assert "+48601234567" not in hidden
    assert "violates not-null constraint\nDETAIL:  (hidden" in hidden
    assert hidden.endswith("[SQL: INSERT INTO probe ...]")
    assert hide_database_details("no detail here") == "no detail here"
