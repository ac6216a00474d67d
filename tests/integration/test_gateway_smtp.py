"""The smtp gateway against aiosmtpd on 127.0.0.1: STARTTLS with a self-signed certificate made
here, implicit TLS, AUTH, 4xx/5xx replies, a server that is not SMTP at all."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from ports import free_port

from pbx_sms.config import load_settings
from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms
from pbx_sms.gateways.smtp import SmtpGateway, SmtpSettings, create

USER = "pbx"
PASSWORD = "smtp-pa55word-sekret"
POLISH = "Zażółć gęślą jaźń"
KEY = "9c1d5e0a-3b7f-4e2a-8f61-0d2c4b6a8e10"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl for this test run."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class Relay:
    """An SMTP handler that keeps what it accepted and can refuse with chosen replies."""

    messages: list[tuple[Envelope, email.message.EmailMessage]] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        parsed = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        self.messages.append((envelope, parsed))  # type: ignore[arg-type]
        return "250 2.0.0 Ok: queued"

    @property
    def delivered_ids(self) -> list[str]:
        return [str(message["Message-ID"]) for _, message in self.messages]


def authenticator(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def starttls_relay(certificate: tuple[Path, Path]) -> Iterator[tuple[Relay, int]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    relay, port = Relay(), free_port()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    yield relay, port
    controller.stop()


@pytest.fixture
def implicit_tls_relay(certificate: tuple[Path, Path]) -> Iterator[tuple[Relay, int]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    relay, port = Relay(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    yield relay, port
    controller.stop()


@pytest.fixture
def plain_relay() -> Iterator[tuple[Relay, int]]:
    relay, port = Relay(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    yield relay, port
    controller.stop()


def sms(key: str = KEY) -> OutgoingSms:
    return OutgoingSms(idempotency_key=key, to="+48500100200", sender="Firma", text=POLISH, parts=1, encoding="ucs2")


def settings_for(port: int, certificate: tuple[Path, Path] | None, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "starttls",
        "username": USER,
        "password": PASSWORD,
        "from_address": "pbx@firma.example",
        "to_template": "{to_digits}@sms.example.com",
        "subject_template": "SMS od {sender}",
        "timeout_s": 5,
        **overrides,
    }
    if certificate is not None:
        values["ca_file"] = str(certificate[0])
    return SmtpSettings.model_validate(values)


async def test_starttls_with_auth_delivers_the_templated_email(
    starttls_relay: tuple[Relay, int], certificate: tuple[Path, Path]
) -> None:
    relay, port = starttls_relay
    gw = SmtpGateway(settings_for(port, certificate))
    result = await gw.send(sms())
    assert result.outcome == "sent", result.reason
    assert result.message_id == f"<{KEY}@firma.example>"
    ((envelope, message),) = relay.messages
    assert envelope.rcpt_tos == ["48500100200@sms.example.com"]
    assert envelope.mail_from == "pbx@firma.example"
    assert message["Subject"] == "SMS od Firma"
    assert message["Message-ID"] == f"<{KEY}@firma.example>"
    assert message.get_content().strip() == POLISH


async def test_the_same_key_twice_is_delivered_once_with_a_stable_message_id(
    starttls_relay: tuple[Relay, int], certificate: tuple[Path, Path]
) -> None:
    relay, port = starttls_relay
    relay.data_replies = ["451 4.3.0 Try again later"]
    gw = SmtpGateway(settings_for(port, certificate))
    refused = await gw.send(sms())
    first = await gw.send(sms())
    second = await gw.send(sms())
    assert refused.outcome == "transient" and "451" in (refused.reason or "")
    assert first.outcome == second.outcome == "sent" and first.message_id == second.message_id
    assert relay.delivered_ids == [f"<{KEY}@firma.example>"]


async def test_implicit_tls(implicit_tls_relay: tuple[Relay, int], certificate: tuple[Path, Path]) -> None:
    relay, port = implicit_tls_relay
    gw = SmtpGateway(settings_for(port, certificate, tls="tls", username=None, password=None))
    result = await gw.send(sms())
    assert result.outcome == "sent", result.reason
    assert len(relay.messages) == 1


async def test_untrusted_certificate_is_refused(starttls_relay: tuple[Relay, int]) -> None:
    relay, port = starttls_relay
    gw = SmtpGateway(settings_for(port, None))
    result = await gw.send(sms())
    assert result.outcome == "transient" and "TLS" in (result.reason or "")
    assert relay.messages == []


async def test_server_without_starttls_is_permanent_never_a_plaintext_fallback(plain_relay: tuple[Relay, int]) -> None:
    relay, port = plain_relay
    gw = SmtpGateway(settings_for(port, None))
    result = await gw.send(sms())
    assert result.outcome == "permanent" and "STARTTLS" in (result.reason or "")
    assert relay.messages == []


async def test_no_tls_relay_for_a_local_mta(plain_relay: tuple[Relay, int]) -> None:
    relay, port = plain_relay
    gw = SmtpGateway(settings_for(port, None, tls="none", username=None, password=None))
    assert (await gw.send(sms())).outcome == "sent"
    assert relay.messages[0][0].rcpt_tos == ["48500100200@sms.example.com"]


@pytest.mark.parametrize(
    ("where", "reply", "outcome"),
    [
        ("rcpt", "450 4.2.1 Mailbox busy", "transient"),
        ("rcpt", "550 5.1.1 No such user", "permanent"),
        ("data", "452 4.3.1 Insufficient system storage", "transient"),
        ("data", "554 5.7.1 Message rejected", "permanent"),
    ],
)
async def test_4xx_is_transient_5xx_is_permanent(
    starttls_relay: tuple[Relay, int], certificate: tuple[Path, Path], where: str, reply: str, outcome: str
) -> None:
    relay, port = starttls_relay
    (relay.rcpt_replies if where == "rcpt" else relay.data_replies).append(reply)
    gw = SmtpGateway(settings_for(port, certificate))
    result = await gw.send(sms())
    assert result.outcome == outcome
    assert reply.split()[0] in (result.reason or "")
    assert relay.messages == []


async def test_wrong_password_is_permanent_and_never_logged(
    starttls_relay: tuple[Relay, int], certificate: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, port = starttls_relay
    wrong = "wrong-pa55word-sekret"
    gw = SmtpGateway(settings_for(port, certificate, password=wrong))
    result = await gw.send(sms())
    assert result.outcome == "permanent" and "535" in (result.reason or "")
    for secret in (wrong, PASSWORD):
        assert secret not in caplog.text and secret not in str(result) and secret not in repr(gw.config)


async def test_a_server_speaking_nonsense_is_transient_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def babble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\nthis is not SMTP\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(babble, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gw = SmtpGateway(settings_for(port, None, tls="none", username=None, password=None))
    result = await gw.send(sms())
    server.close()
    await server.wait_closed()
    assert result.outcome == "transient"
    assert "smtp: transient" in caplog.text


async def test_nobody_listening_is_transient() -> None:
    gw = SmtpGateway(settings_for(free_port(), None, tls="none", username=None, password=None))
    result = await gw.send(sms())
    assert result.outcome == "transient" and "connection failed" in (result.reason or "")


def test_settings_validation_names_the_variable() -> None:
    base = {
        "PBX_SMS_SMTP_HOST": "mail.example",
        "PBX_SMS_SMTP_FROM_ADDRESS": "a@b.example",
        "PBX_SMS_SMTP_TO_TEMPLATE": "{to}@x.example",
    }
    assert create(load_settings(environ=base)).config.effective_port == 587
    with pytest.raises(GatewayConfigError, match=r"PBX_SMS_SMTP_TO_TEMPLATE: .*unknown placeholder \{number\}"):
        create(load_settings(environ={**base, "PBX_SMS_SMTP_TO_TEMPLATE": "{number}@x.example"}))
    with pytest.raises(GatewayConfigError) as pair:
        create(load_settings(environ={**base, "PBX_SMS_SMTP_PASSWORD": PASSWORD}))
    assert "username and password go together" in str(pair.value) and PASSWORD not in str(pair.value)
    with pytest.raises(GatewayConfigError, match="PBX_SMS_SMTP_TLS"):
        create(load_settings(environ={**base, "PBX_SMS_SMTP_TLS": "ssl3"}))


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("SUBJECT_TEMPLATE", "SMS from {sender}\nBcc: victim@example.com", "must be one line"),
        ("SUBJECT_TEMPLATE", "SMS\r", "must be one line"),
        ("TO_TEMPLATE", "{to_digits}@sms.example.com\nBcc: victim@example.com", "must be one line"),
        ("TO_TEMPLATE", "{to_digits} at sms.example.com", "expected an address template"),
        ("TO_TEMPLATE", "{to_digits}", "expected an address template"),
        ("TO_TEMPLATE", "{text}@sms.example.com", "{text} cannot be part of an address"),
    ],
)
def test_header_templates_are_checked_at_start_up(setting: str, value: str, expected: str) -> None:
    environ = {
        "PBX_SMS_SMTP_HOST": "mail.example",
        "PBX_SMS_SMTP_FROM_ADDRESS": "a@b.example",
        "PBX_SMS_SMTP_TO_TEMPLATE": "{to}@x.example",
        f"PBX_SMS_SMTP_{setting}": value,
    }
    with pytest.raises(GatewayConfigError) as caught:
        create(load_settings(environ=environ))
    assert f"environment variable PBX_SMS_SMTP_{setting}: " in str(caught.value)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("subject", "text", "sender"),
    [("SMS: {text}", "Oddzwonimy.\nDziękujemy", "Firma"), ("SMS od {sender}", POLISH, "Fir\r\nBcc: x@y.example")],
)
async def test_a_line_break_in_a_rendered_header_is_a_permanent_explained_failure(
    plain_relay: tuple[Relay, int], subject: str, text: str, sender: str
) -> None:
    relay, port = plain_relay
    gw = SmtpGateway(settings_for(port, None, tls="none", username=None, password=None, subject_template=subject))
    message = OutgoingSms(idempotency_key=KEY, to="+48500100200", sender=sender, text=text, parts=1, encoding="ucs2")
    result = await gw.send(message)
    assert result.outcome == "permanent"
    assert result.reason is not None
    assert result.reason.startswith("PBX_SMS_SMTP_SUBJECT_TEMPLATE: the value rendered from {")
    assert "has a line break" in result.reason
    assert relay.messages == []
    # In the body a line break is just text.
    plain = SmtpGateway(settings_for(port, None, tls="none", username=None, password=None))
    other_key = "0b9f3f0c-8a41-4d57-9d0e-5c3a7e1f2b64"
    assert (await plain.send(replace(message, idempotency_key=other_key, sender="Firma"))).outcome == "sent"
    assert relay.messages[0][1].get_content().split() == text.split()


def test_registered_as_entry_point() -> None:
    (entry,) = entry_points(group="pbx_sms.gateways", name="smtp")
    assert entry.load() is create


# Keep the SMTP import used for type checkers reading the handler signatures.
_ = SmtpServer
