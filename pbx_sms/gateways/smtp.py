"""Email-to-SMS through an SMTP relay (aiosmtplib).

Many operators' SMS providers accept an email per SMS at an address built from the number
(``48500100200@sms.example.com``).  The recipient address, subject and body are templates
over ``{to}`` (E.164 with ``+``), ``{to_digits}`` (without it), ``{sender}`` and ``{text}``.

Outcomes: a 4xx reply (greylisting, mailbox busy, rate limit) and connection problems are
transient; a 5xx reply (unknown recipient, rejected content, bad credentials) is permanent.
SMTP has no idempotency: the ``Message-ID`` is derived from the idempotency key, so every
retry of one SMS carries the same ``Message-ID`` (a provider that deduplicates on it sends
it once), and a key this process already delivered is never handed to the relay again.
A connection lost after the message data was written is retried: at least once, not
exactly once.
"""

from __future__ import annotations

import logging
import re
import ssl
import string
from collections import OrderedDict
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from pbx_sms.gateways.base import OutgoingSms, SendResult
from pbx_sms.gateways.registry import GatewayPlugin

log = logging.getLogger(__name__)

NAME = "smtp"
PLACEHOLDERS = frozenset({"to", "to_digits", "sender", "text"})
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
MAX_REMEMBERED_KEYS = 10_000


# One address: no spaces, angle brackets or line breaks around a single @.
ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
# Rendered at start-up to check the recipient template makes an address.
SAMPLE_SMS = OutgoingSms("00000000-0000-4000-8000-000000000000", "+48500100200", "Firma", "Text", 1, "gsm7")


def has_line_break(value: str) -> bool:
    return any(char in value for char in "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535)
    # starttls: plain connection upgraded with STARTTLS (required, never skipped);
    # tls: TLS from the first byte (SMTPS, port 465); none: no encryption (a local relay).
    tls: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    # A CA bundle to trust instead of the system's (a private relay with its own CA).
    ca_file: str | None = None
    from_address: str = Field(pattern=ADDRESS.pattern)
    to_template: str = Field(min_length=1)
    subject_template: str = ""
    body_template: str = "{text}"
    timeout_s: float = Field(30.0, gt=0, le=300)
    # The relay keeps no record this process can ask: an attempt cut short by a crash is held as
    # unclear for an operator unless this says send it again (at least once).
    resend_after_crash: bool = False

    @field_validator("to_template", "subject_template", "body_template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            unknown = template_fields(value) - PLACEHOLDERS
        except ValueError as exc:
            raise ValueError(f"invalid template: {exc}") from None
        if unknown:
            known = ", ".join("{" + name + "}" for name in sorted(PLACEHOLDERS))
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}} (expected one of {known})")
        return value

    @field_validator("to_template", "subject_template")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # Header values: a line break would end the header (and email refuses it when sending).
        if has_line_break(value):
            raise ValueError("must be one line (a line break cannot be part of an email header)")
        return value

    @field_validator("to_template")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if "text" in template_fields(value):
            raise ValueError("{text} cannot be part of an address (the SMS text is free text)")
        sample = render(value, SAMPLE_SMS)
        if not ADDRESS.fullmatch(sample):
            raise ValueError(
                f"expected an address template like {{to_digits}}@sms.example.com, got {sample!r} for {SAMPLE_SMS.to}"
            )
        return value

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (set both or neither)")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.tls]


def render(template: str, sms: OutgoingSms) -> str:
    return template.format(to=sms.to, to_digits=sms.to.lstrip("+"), sender=sms.sender, text=sms.text)


def message_id(sms: OutgoingSms, from_address: str) -> str:
    return f"<{sms.idempotency_key}@{from_address.rpartition('@')[2]}>"


class UnsendableSms(ValueError):
    """This SMS's values make an email that cannot be sent (the message names the setting)."""


def header_value(setting: str, template: str, sms: OutgoingSms) -> str:
    value = render(template, sms)
    if has_line_break(value):
        fields = ", ".join("{" + name + "}" for name in sorted(template_fields(template)))
        raise UnsendableSms(
            f"PBX_SMS_SMTP_{setting.upper()}: the value rendered from {fields} has a line break, "
            "which cannot be part of an email header (not sent; use a placeholder without line breaks)"
        )
    return value


def build_email(sms: OutgoingSms, config: SmtpSettings) -> EmailMessage:
    """The email for one SMS (pure: no I/O); ``UnsendableSms`` when a header value has a line break."""
    email = EmailMessage()
    email["From"] = config.from_address
    to = header_value("to_template", config.to_template, sms)
    if not ADDRESS.fullmatch(to):
        raise UnsendableSms(f"PBX_SMS_SMTP_TO_TEMPLATE: {to!r} is not an email address (not sent)")
    email["To"] = to
    if config.subject_template:
        email["Subject"] = header_value("subject_template", config.subject_template, sms)
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message_id(sms, config.from_address)
    email.set_content(render(config.body_template, sms))
    return email


def result_for_reply(code: int, text: str, stage: str) -> SendResult:
    reason = f"SMTP {stage} refused: {code} {' '.join(text.split())[:200]}"
    if 400 <= code < 500:
        return SendResult.transient(reason)
    return SendResult.permanent(reason)


def result_for_error(exc: Exception) -> SendResult:
    """An aiosmtplib failure → transient / permanent (pure)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0] if exc.recipients else None
        if refused is None:
            return SendResult.permanent("SMTP recipient refused")
        return result_for_reply(refused.code, refused.message, "recipient")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return result_for_reply(exc.code, exc.message, "login")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return result_for_reply(exc.code, exc.message, "sender")
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return result_for_reply(exc.code, exc.message, "message")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return SendResult.transient(f"SMTP timeout: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 400:
        return result_for_reply(exc.code, exc.message, "session")
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or (
        type(exc) is aiosmtplib.SMTPException and "not supported" in str(exc)
    ):
        # STARTTLS or AUTH not offered: never fall back to plaintext, an operator must look.
        return SendResult.permanent(f"SMTP server lacks a required feature: {exc}")
    if isinstance(exc, ssl.SSLError):
        return SendResult.transient(f"SMTP TLS failed: {exc.reason or type(exc).__name__}")
    if isinstance(exc, OSError | aiosmtplib.SMTPException):
        return SendResult.transient(f"SMTP connection failed: {type(exc).__name__}: {exc}")
    return SendResult.transient(f"SMTP failed: {type(exc).__name__}")


class SmtpGateway:
    name = NAME

    def __init__(self, config: SmtpSettings) -> None:
        self.config = config
        self.timeout_s = config.timeout_s
        self.resend_after_crash = config.resend_after_crash
        self._tls_context = ssl.create_default_context(cafile=config.ca_file) if config.tls != "none" else None
        self._delivered: OrderedDict[str, str] = OrderedDict()

    def __repr__(self) -> str:
        return f"SmtpGateway(host={self.config.host!r}, port={self.config.effective_port}, tls={self.config.tls!r})"

    async def send(self, sms: OutgoingSms) -> SendResult:
        earlier = self._delivered.get(sms.idempotency_key)
        if earlier is not None:
            log.info("smtp: key %s was already delivered as %s; not sent again", sms.idempotency_key, earlier)
            return SendResult.sent(earlier)
        try:
            email = build_email(sms, self.config)
        except UnsendableSms as exc:
            # The same SMS makes the same email every time: retrying cannot help.
            return SendResult.permanent(str(exc))
        password = self.config.password.get_secret_value() if self.config.password else None
        try:
            await aiosmtplib.send(
                email,
                hostname=self.config.host,
                port=self.config.effective_port,
                username=self.config.username,
                password=password,
                use_tls=self.config.tls == "tls",
                start_tls=self.config.tls == "starttls",
                tls_context=self._tls_context,
                timeout=self.config.timeout_s,
            )
        except Exception as exc:
            result = result_for_error(exc)
            log.warning("smtp: %s (key %s): %s", result.outcome, sms.idempotency_key, result.reason)
            return result
        sent_id = str(email["Message-ID"])
        self._delivered[sms.idempotency_key] = sent_id
        while len(self._delivered) > MAX_REMEMBERED_KEYS:
            self._delivered.popitem(last=False)
        return SendResult.sent(sent_id)

    async def close(self) -> None:
        return None


# Entry point ``pbx_sms.gateways: smtp``.
create = GatewayPlugin(NAME, SmtpSettings, lambda config, _settings: SmtpGateway(config))
