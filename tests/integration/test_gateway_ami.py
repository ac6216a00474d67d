"""The ami gateway against a loopback AMI server that answers DongleSendSMS like chan_dongle
(queued + ID, later DongleSMSStatus) and MessageSend like Asterisk."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pytest

from pbx_sms.config import load_settings
from pbx_sms.gateways.ami import AmiGateway, AmiSendSettings, create
from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms

USER = "pbx-sms-send"
SECRET = "ami-send-sekret-7777"
POLISH = "Zażółć gęślą jaźń"
KEY = "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"


@dataclass
class FakeAsterisk:
    """Enough AMI for the gateway: Login, DongleSendSMS + DongleSMSStatus, MessageSend, Logoff."""

    status: str | None = "Sent"  # None: never report a status
    status_delay_s: float = 0.05
    status_before_response: bool = False
    dongle_error: str | None = None
    dongle_reply: str | None = None  # a raw reply instead of the documented one
    messagesend_error: str | None = None
    drop_after_queue: bool = False
    queued: list[dict[str, str]] = field(default_factory=list)
    messages_sent: list[dict[str, str]] = field(default_factory=list)
    logins: list[dict[str, str]] = field(default_factory=list)
    logoffs: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> FakeAsterisk:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        for task in self._tasks:
            task.cancel()
        for writer in self.writers:
            writer.close()
        self._server.close()
        await self._server.wait_closed()

    def emit_status(self, dongle_id: str, status: str) -> None:
        block = (
            f"Event: DongleSMSStatus\r\nPrivilege: call,all\r\nDevice: dongle0\r\nID: {dongle_id}\r\nStatus: {status}"
        )
        for writer in self.writers:
            if not writer.is_closing():
                writer.write(block.encode() + b"\r\n\r\n")

    async def _later_status(self, dongle_id: str, status: str) -> None:
        await asyncio.sleep(self.status_delay_s)
        self.emit_status(dongle_id, status)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/5.0.1\r\n")
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                headers: dict[str, str] = {}
                for line in block.decode("utf-8").split("\r\n"):
                    key, sep, value = line.partition(": ")
                    if sep:
                        headers[key] = value
                if not self._answer(headers, writer):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _reply(self, writer: asyncio.StreamWriter, headers: dict[str, str], *lines: str) -> None:
        text = "\r\n".join([lines[0], f"ActionID: {headers.get('ActionID', '')}", *lines[1:]])
        writer.write(text.encode() + b"\r\n\r\n")

    def _answer(self, headers: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        action = headers.get("Action", "")
        if action == "Login":
            self.logins.append(headers)
            if headers.get("Username") == USER and headers.get("Secret") == SECRET:
                self._reply(writer, headers, "Response: Success", "Message: Authentication accepted")
                return True
            self._reply(writer, headers, "Response: Error", "Message: Authentication failed")
            return False
        if action == "DongleSendSMS":
            if self.dongle_reply is not None:
                writer.write(self.dongle_reply.encode())
                return True
            if self.dongle_error:
                self._reply(writer, headers, "Response: Error", f"Message: [dongle0] {self.dongle_error}", "ID: (nil)")
                return True
            self.queued.append(headers)
            dongle_id = f"0x55d1c8a{len(self.queued):x}0"
            if self.status and self.status_before_response:
                self.emit_status(dongle_id, self.status)
            queued = "Message: [dongle0] SMS queued for send"
            self._reply(writer, headers, "Response: Success", queued, f"ID: {dongle_id}")
            if self.drop_after_queue:
                return False
            if self.status and not self.status_before_response:
                task = asyncio.ensure_future(self._later_status(dongle_id, self.status))
                self._tasks.add(task)
            return True
        if action == "MessageSend":
            if self.messagesend_error:
                self._reply(writer, headers, "Response: Error", f"Message: {self.messagesend_error}")
                return True
            self.messages_sent.append(headers)
            self._reply(writer, headers, "Response: Success", "Message: Message successfully sent")
            return True
        if action == "Logoff":
            self.logoffs += 1
            self._reply(writer, headers, "Response: Goodbye", "Message: Thanks for all the fish.")
            return False
        self._reply(writer, headers, "Response: Error", "Message: Invalid/unknown command")
        return True


def sms(key: str = KEY, text: str = POLISH, to: str = "+48500100200") -> OutgoingSms:
    return OutgoingSms(idempotency_key=key, to=to, sender="+48226000000", text=text, parts=1, encoding="ucs2")


def gateway(port: int, **overrides: Any) -> AmiGateway:
    values = {"username": USER, "secret": SECRET, "device": "dongle0", "status_timeout_s": 2, "action_timeout_s": 2}
    return AmiGateway(AmiSendSettings.model_validate({**values, **overrides}), host="127.0.0.1", port=port)


async def test_dongle_sms_is_sent_when_its_status_says_sent() -> None:
    async with FakeAsterisk() as pbx:
        gw = gateway(pbx.port)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == "sent" and result.message_id == "0x55d1c8a10"
    ((queued,),) = [pbx.queued]
    assert {k: queued[k] for k in ("Device", "Number", "Message")} == {
        "Device": "dongle0",
        "Number": "+48500100200",
        "Message": POLISH,
    }
    assert [(login["Username"], login["Events"]) for login in pbx.logins] == [(USER, "call")]


async def test_close_logs_off_the_connection_it_kept() -> None:
    async with FakeAsterisk() as pbx:
        gw = gateway(pbx.port)
        await gw.send(sms())
        await gw.close()
        assert pbx.logoffs == 1
        await gw.close()  # nothing left to log off
        assert pbx.logoffs == 1


async def test_one_connection_serves_many_sms() -> None:
    async with FakeAsterisk() as pbx:
        gw = gateway(pbx.port)
        results = [await gw.send(sms(key=f"k{n}")) for n in range(5)]
        await gw.close()
    assert [r.outcome for r in results] == ["sent"] * 5
    assert len(pbx.queued) == 5 and len(pbx.logins) == 1
    assert len({r.message_id for r in results}) == 5


async def test_status_arriving_before_the_response_is_not_lost() -> None:
    async with FakeAsterisk(status_before_response=True) as pbx:
        gw = gateway(pbx.port)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == "sent"


async def test_not_sent_is_transient_and_a_retry_sends_again() -> None:
    async with FakeAsterisk(status="NotSent") as pbx:
        gw = gateway(pbx.port)
        failed = await gw.send(sms())
        pbx.status = "Sent"
        retried = await gw.send(sms())
        await gw.close()
    assert failed.outcome == "transient" and "NotSent" in (failed.reason or "")
    assert retried.outcome == "sent"
    assert len(pbx.queued) == 2


async def test_no_status_in_time_is_unclear_and_the_retry_never_queues_a_second_sms() -> None:
    async with FakeAsterisk(status=None) as pbx:
        gw = gateway(pbx.port, status_timeout_s=0.2)
        first = await gw.send(sms())
        still_waiting = await gw.send(sms())
        pbx.emit_status("0x55d1c8a10", "Sent")  # the modem got there in the end
        await asyncio.sleep(0.05)
        retried = await gw.send(sms())
        await gw.close()
    assert first.outcome == "unclear" and "may still be sent" in (first.reason or "")
    assert still_waiting.outcome == "unclear"
    assert retried.outcome == "sent" and retried.message_id == "0x55d1c8a10"
    assert len(pbx.queued) == 1


async def test_connection_lost_while_waiting_is_unclear_and_the_retry_sends_again() -> None:
    async with FakeAsterisk(drop_after_queue=True) as pbx:
        gw = gateway(pbx.port)
        lost = await gw.send(sms())
        pbx.drop_after_queue = False
        retried = await gw.send(sms())
        await gw.close()
    assert lost.outcome == "unclear" and "connection lost" in (lost.reason or "")
    assert retried.outcome == "sent"
    assert len(pbx.queued) == 2 and len(pbx.logins) == 2


@pytest.mark.parametrize(
    ("error", "outcome"),
    [("Device not found", "permanent"), ("Device not connected", "transient"), ("Message not specified", "permanent")],
)
async def test_dongle_error_responses(error: str, outcome: str) -> None:
    async with FakeAsterisk(dongle_error=error) as pbx:
        gw = gateway(pbx.port)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == outcome and error in (result.reason or "")


async def test_nonsense_reply_is_logged_and_the_gateway_keeps_working(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeAsterisk() as pbx:
        gw = gateway(pbx.port, action_timeout_s=0.3)
        pbx.dongle_reply = "Bananas are yellow\r\n\r\n"
        odd = await gw.send(sms())
        pbx.dongle_reply = None
        fine = await gw.send(sms(key="next"))
        await gw.close()
    # Silence after the action was written: it may be queued on the dongle.
    assert odd.outcome == "unclear" and "no reply to DongleSendSMS within 0.3 s" in (odd.reason or "")
    assert "ami: unclear" in caplog.text
    assert fine.outcome == "sent"


async def test_text_line_breaks_cannot_inject_headers_and_bad_numbers_are_refused() -> None:
    async with FakeAsterisk() as pbx:
        gw = gateway(pbx.port)
        ok = await gw.send(sms(text="Line one\r\nAction: Originate\nChannel: x"))
        bad = await gw.send(sms(key="bad", to="+48500\r\nAction: Originate"))
        await gw.close()
    assert ok.outcome == "sent"
    assert pbx.queued[0]["Message"] == "Line one Action: Originate Channel: x"
    assert bad.outcome == "permanent" and len(pbx.queued) == 1


async def test_login_refused_is_permanent_and_the_secret_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-secret-123"
    async with FakeAsterisk() as pbx:
        gw = gateway(pbx.port, secret=wrong)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == "permanent" and "AMI login refused" in (result.reason or "")
    assert pbx.queued == []
    for secret in (wrong, SECRET):
        assert secret not in caplog.text and secret not in str(result) and secret not in repr(gw)
        assert secret not in repr(gw.config)


async def test_nothing_listening_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gw = gateway(port)
    result = await gw.send(sms())
    await gw.close()
    assert result.outcome == "transient" and "cannot connect" in (result.reason or "")


async def test_messagesend_fields_and_one_send_per_key() -> None:
    async with FakeAsterisk() as pbx:
        destination, to = "pjsip:gsm/sip:{to}@sms-gw", "sip:{to_digits}@sms-gw"
        gw = gateway(pbx.port, mode="messagesend", device=None, destination=destination, to=to)
        first = await gw.send(sms())
        again = await gw.send(sms())
        await gw.close()
    assert first.outcome == again.outcome == "sent"
    ((sent,),) = [pbx.messages_sent]
    assert {k: sent[k] for k in ("Destination", "To", "From", "Body")} == {
        "Destination": "pjsip:gsm/sip:+48500100200@sms-gw",
        "To": "sip:48500100200@sms-gw",
        "From": "+48226000000",
        "Body": POLISH,
    }
    assert pbx.logins[0]["Events"] == "off"


@pytest.mark.parametrize(
    ("error", "outcome"),
    [("Message failed to send.", "transient"), ("Message technology 'xmpp' not found.", "permanent")],
)
async def test_messagesend_errors(error: str, outcome: str) -> None:
    async with FakeAsterisk(messagesend_error=error) as pbx:
        gw = gateway(pbx.port, mode="messagesend", device=None)
        result = await gw.send(sms())
        await gw.close()
    assert result.outcome == outcome and error in (result.reason or "")


def test_settings_have_their_own_prefix_and_clear_errors() -> None:
    user = {"PBX_SMS_AMI_SEND_USERNAME": USER, "PBX_SMS_AMI_SEND_SECRET": SECRET}
    listener = {"PBX_SMS_AMI_HOST": "10.0.0.5", "PBX_SMS_AMI_USERNAME": "listener"}
    gw = create(load_settings(environ={**listener, **user, "PBX_SMS_AMI_SEND_DEVICE": "dongle0"}))
    assert (gw.host, gw.port, gw.config.username) == ("10.0.0.5", 5038, USER)
    assert gw.timeout_s > gw.config.status_timeout_s
    with pytest.raises(GatewayConfigError, match="PBX_SMS_AMI_SEND_DEVICE") as missing:
        create(load_settings(environ=user))
    assert SECRET not in str(missing.value)
    with pytest.raises(GatewayConfigError, match="PBX_SMS_AMI_SEND_SECRET: required"):
        create(load_settings(environ={"PBX_SMS_AMI_SEND_USERNAME": USER, "PBX_SMS_AMI_SEND_DEVICE": "d"}))


def test_registered_as_entry_point() -> None:
    (entry,) = entry_points(group="pbx_sms.gateways", name="ami")
    assert entry.load() is create
