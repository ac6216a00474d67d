"""SMS through the PBX itself over AMI, with the gateway's own AMI user.

The listener's AMI user stays read-only; this gateway logs in as another user with the
write class its action needs:

* ``mode = dongle`` — chan_dongle's ``DongleSendSMS`` (Device, Number, Message), registered
  under the ``call`` class: the user needs ``write = call`` and ``read = call`` (for the
  ``DongleSMSStatus`` event).  The response only says the SMS was queued on the modem and
  carries an ``ID``; the SMS is sent when ``DongleSMSStatus`` for that ID says ``Sent``.
  ``NotSent`` is transient: chan_dongle reports every failure of the modem's AT+CMGS that
  way (no network, SIM busy, modem reset, and also a refused number) and cannot tell them
  apart, so the outbox retries within its limit.  No status within ``status_timeout_s`` is
  transient too, but the SMS may still go out: while this connection lives, a retry of the
  same key waits for that earlier attempt's status instead of queueing a second SMS.
* ``mode = messagesend`` — Asterisk's ``MessageSend`` (Destination, To, From, Body), which
  needs ``write = message``; ``Success`` means the channel driver took the message.

Header values are one line each: a line break in any value would let a caller ID or a
message text inject AMI headers, so they are replaced (text) or refused (addresses).
The connection is an :class:`AmiSession`, as the listener's: unanswered actions are never
replayed after a reconnect (panoramisk's Manager would, on ``FullyBooted``): a replayed
``DongleSendSMS`` could send twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from pbx_sms.ami.parser import AmiMessage
from pbx_sms.ami.protocol import AmiReply
from pbx_sms.ami.session import AmiSession, LoginRefused, SessionEnded
from pbx_sms.config import Settings
from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms, SendResult
from pbx_sms.gateways.registry import GatewayPlugin
from pbx_sms.gateways.section import env_name

log = logging.getLogger(__name__)

NAME = "ami"
# Settings prefix: PBX_SMS_AMI_HOST etc. already belong to the listener's (read-only) user.
SECTION = "ami_send"
STATUS_EVENT = "DongleSMSStatus"
MAX_REMEMBERED_KEYS = 10_000
# A status that arrives before the response that names its ID is kept this long.
EARLY_STATUS_TTL_S = 300.0


class AmiSendSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = None  # default: the listener's ami_host
    port: int | None = Field(None, ge=1, le=65535)  # default: the listener's ami_port
    username: str = Field(min_length=1)
    secret: SecretStr = Field(min_length=1)
    mode: Literal["dongle", "messagesend"] = "dongle"
    device: str | None = None
    destination: str | None = None
    to: str = "{to}"
    from_: str = Field("{sender}", alias="from")
    action_timeout_s: float = Field(10.0, gt=0, le=120)
    status_timeout_s: float = Field(60.0, gt=0, le=600)
    # An SMS queued on the dongle is not known after a restart: an attempt cut short by a crash is
    # held as unclear for an operator unless this says send it again (at least once).
    resend_after_crash: bool = False

    @model_validator(mode="after")
    def _mode_needs(self) -> AmiSendSettings:
        if self.mode == "dongle" and not self.device:
            raise ValueError(f"mode dongle needs {env_name(SECTION, 'device')} (the dongle's name in dongle.conf)")
        for name, value in (("device", self.device), ("destination", self.destination), ("to", self.to)):
            if value and has_line_break(value):
                raise ValueError(f"{env_name(SECTION, name)}: must be one line")
        return self


def has_line_break(value: str) -> bool:
    return "\r" in value or "\n" in value


def one_line(text: str) -> str:
    """Message text as one AMI header value: line breaks become spaces."""
    return " ".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def render(template: str, sms: OutgoingSms) -> str:
    return template.format(to=sms.to, to_digits=sms.to.lstrip("+"), sender=sms.sender)


def dongle_action(sms: OutgoingSms, device: str) -> dict[str, str]:
    return {"Action": "DongleSendSMS", "Device": device, "Number": sms.to, "Message": one_line(sms.text)}


def messagesend_action(sms: OutgoingSms, config: AmiSendSettings) -> dict[str, str]:
    action = {
        "Action": "MessageSend",
        "To": render(config.to, sms),
        "From": render(config.from_, sms),
        "Body": one_line(sms.text),
    }
    if config.destination:
        action["Destination"] = render(config.destination, sms)
    return action


def result_for_error_response(action: str, message: str) -> SendResult:
    """An AMI ``Response: Error`` → transient / permanent (pure)."""
    reason = f"AMI {action} refused: {message or 'no message'}"
    lowered = message.lower()
    if action == "DongleSendSMS":
        # "Device not found" / "... not specified" are configuration errors; "not connected",
        # "busy", "queue full" are states of the modem that pass.
        permanent = "not found" in lowered or "not specified" in lowered
    else:
        # "Message failed to send." is the channel driver's temporary failure; unknown
        # technologies, unparsable URIs and missing fields do not heal by retrying.
        permanent = "failed to send" not in lowered
    return SendResult.permanent(reason) if permanent else SendResult.transient(reason)


@dataclass(slots=True)
class _Attempt:
    dongle_id: str
    status: asyncio.Future[str]
    session: AmiSession


class AmiGateway:
    name = NAME
    # Its dongle or SIP peer is on this PBX: the outbox worker sends it only this PBX's calls' SMS.
    local_to_pbx = True

    def __init__(self, config: AmiSendSettings, host: str, port: int) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.resend_after_crash = config.resend_after_crash
        # Connect + login + action + (dongle) the status event.
        self.timeout_s = 3 * config.action_timeout_s + (config.status_timeout_s if config.mode == "dongle" else 0)
        self._session: AmiSession | None = None
        self._connect_lock = asyncio.Lock()
        self._waiters: dict[str, asyncio.Future[str]] = {}
        self._early: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._attempts: OrderedDict[str, _Attempt] = OrderedDict()
        self._delivered: OrderedDict[str, str | None] = OrderedDict()

    def __repr__(self) -> str:
        return f"AmiGateway(mode={self.config.mode!r}, user={self.config.username!r}, at={self.host}:{self.port})"

    # --- sending ---------------------------------------------------------------------

    async def send(self, sms: OutgoingSms) -> SendResult:
        key = sms.idempotency_key
        if key in self._delivered:
            log.info("ami: key %s was already sent; not sent again", key)
            return SendResult.sent(self._delivered[key])
        if has_line_break(sms.to) or has_line_break(sms.sender):
            return SendResult.permanent("AMI: a line break in the number or sender (header injection refused)")
        if self.config.mode == "dongle":
            earlier = self._attempts.get(key)
            if earlier is not None:
                result = await self._await_earlier(key, earlier)
                if result is not None:
                    return self._finish(key, result)
        try:
            session = await self._connected()
        except GatewayConfigError as exc:
            return self._finish(key, SendResult.permanent(str(exc)))
        except (OSError, SessionEnded) as exc:
            return self._finish(key, SendResult.transient(f"AMI: cannot connect to {self.host}:{self.port}: {exc}"))
        if self.config.mode == "messagesend":
            return self._finish(key, await self._message_send(session, sms))
        return self._finish(key, await self._dongle_send(session, sms))

    def _finish(self, key: str, result: SendResult) -> SendResult:
        if result.outcome == "sent":
            self._attempts.pop(key, None)
            self._delivered[key] = result.message_id
            while len(self._delivered) > MAX_REMEMBERED_KEYS:
                self._delivered.popitem(last=False)
        else:
            log.warning("ami: %s (key %s): %s", result.outcome, key, result.reason)
        return result

    async def _message_send(self, session: AmiSession, sms: OutgoingSms) -> SendResult:
        response = await self._action(session, messagesend_action(sms, self.config))
        if isinstance(response, SendResult):
            return response
        if response.get("Response") == "Success":
            return SendResult.sent(None)
        return result_for_error_response("MessageSend", response.get("Message"))

    async def _dongle_send(self, session: AmiSession, sms: OutgoingSms) -> SendResult:
        assert self.config.device is not None
        response = await self._action(session, dongle_action(sms, self.config.device))
        if isinstance(response, SendResult):
            return response
        if response.get("Response") != "Success":
            return result_for_error_response("DongleSendSMS", response.get("Message"))
        dongle_id = response.get("ID").strip()
        if not dongle_id or dongle_id == "(nil)":
            return SendResult.transient(f"AMI DongleSendSMS: queued but no ID in the response ({response!r})")
        attempt = _Attempt(dongle_id, self._status_future(dongle_id), session)
        self._attempts[sms.idempotency_key] = attempt
        while len(self._attempts) > MAX_REMEMBERED_KEYS:
            self._attempts.popitem(last=False)
        return await self._wait_status(attempt)

    async def _await_earlier(self, key: str, attempt: _Attempt) -> SendResult | None:
        """The earlier attempt's outcome, or None when it is unknowable and a new attempt may go."""
        if attempt.status.done():
            if attempt.status.result() == "Sent":
                return SendResult.sent(attempt.dongle_id)
            self._attempts.pop(key, None)
            return None
        if attempt.session is not self._session or attempt.session.lost.done():
            # Its connection is gone, and with it any status: at least once, send again.
            log.warning("ami: status of key %s (dongle ID %s) was lost with the connection", key, attempt.dongle_id)
            self._attempts.pop(key, None)
            return None
        log.info("ami: key %s is still queued on the dongle as %s; waiting for its status", key, attempt.dongle_id)
        return await self._wait_status(attempt)

    async def _wait_status(self, attempt: _Attempt) -> SendResult:
        lost = attempt.session.lost
        done, _ = await asyncio.wait(
            {attempt.status, lost}, timeout=self.config.status_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if attempt.status in done:
            status = attempt.status.result()
            if status == "Sent":
                return SendResult.sent(attempt.dongle_id)
            return SendResult.transient(f"chan_dongle reports {status or 'no status'} for SMS {attempt.dongle_id}")
        if lost in done:
            return SendResult.unclear(f"AMI connection lost before the status of SMS {attempt.dongle_id}")
        return SendResult.unclear(
            f"no DongleSMSStatus for SMS {attempt.dongle_id} within {self.config.status_timeout_s:g} s "
            "(it may still be sent; a retry waits for it)"
        )

    # --- the connection --------------------------------------------------------------

    async def _action(self, session: AmiSession, action: dict[str, str]) -> AmiReply | SendResult:
        """The reply, or a transient SendResult when the connection fails or is silent."""
        try:
            return await session.request(action)
        except SessionEnded as exc:
            # After silence the SMS may or may not be queued; a fresh connection is the only safe state.
            self._drop(session)
            return SendResult.unclear(f"AMI: {exc}")

    async def _connected(self) -> AmiSession:
        async with self._connect_lock:
            session = self._session
            if session is not None and not session.lost.done():
                return session
            self._session = None
            dongle = self.config.mode == "dongle"
            session = AmiSession(
                self.host,
                self.port,
                self._event_received,
                reply_timeout_s=self.config.action_timeout_s,
                wanted_events={STATUS_EVENT} if dongle else set(),
            )
            try:
                await session.connect()
                await session.login(self.config.username, self.config.secret, events="call" if dongle else "off")
            except LoginRefused as exc:
                session.close()
                raise GatewayConfigError(
                    f"AMI login refused for user {self.config.username!r} at {self.host}:{self.port}: "
                    f"{exc} (check {env_name(SECTION, 'username')}/{env_name(SECTION, 'secret')} and manager.conf)"
                ) from None
            except BaseException:
                session.close()
                raise
            log.info(
                "ami: logged in to %s:%s as %r (%s mode)", self.host, self.port, self.config.username, self.config.mode
            )
            self._session = session
            return session

    def _drop(self, session: AmiSession) -> None:
        session.close()
        if self._session is session:
            self._session = None

    def _event_received(self, message: AmiMessage) -> None:
        if message.event != STATUS_EVENT:
            return
        dongle_id = message.get("ID").strip()
        status = message.get("Status").strip()
        waiter = self._waiters.pop(dongle_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(status)
            return
        now = time.monotonic()
        self._early[dongle_id] = (status, now)
        while self._early and (
            len(self._early) > MAX_REMEMBERED_KEYS or next(iter(self._early.values()))[1] < now - EARLY_STATUS_TTL_S
        ):
            self._early.popitem(last=False)

    def _status_future(self, dongle_id: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        early = self._early.pop(dongle_id, None)
        if early is not None and early[1] >= time.monotonic() - EARLY_STATUS_TTL_S:
            future.set_result(early[0])
        else:
            # chan_dongle's IDs are pointers and get reused: the newest send owns the ID.
            self._waiters[dongle_id] = future
        return future

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.logoff()
            session.close()


def _build(config: AmiSendSettings, settings: Settings) -> AmiGateway:
    return AmiGateway(config, host=config.host or settings.ami.host, port=config.port or settings.ami.port)


# Entry point ``pbx_sms.gateways: ami`` (settings ``PBX_SMS_AMI_SEND_*``).
create = GatewayPlugin(SECTION, AmiSendSettings, _build)
