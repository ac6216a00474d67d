"""panoramisk's AMI protocol with its byte handling replaced by our AmiStreamParser: the one place that
reaches into panoramisk.

Stock panoramisk 1.4 decodes every TCP read on its own with ``errors='ignore'`` (a UTF-8
character split across two reads is lost), strips each message before splitting it into
headers (a trailing ``Key: `` with an empty value is dropped), and keeps a key that occurs
once as a string (``getdict('ChanVariable')`` fails on one channel variable).  This
protocol keeps panoramisk's action/response machinery (``send`` → future, ``handle_message``)
and hands events on as our :class:`AmiMessage`, parsed from bytes once a message is whole.
panoramisk is untyped and this subclass works with its internals (``responses``, ``transport``,
``closed``), so they are touched here and nowhere else; what leaves this module is typed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from pbx_sms.ami.parser import DEFAULT_MAX_MESSAGE_BYTES, AmiMessage, AmiStreamParser, ParserStats

log = logging.getLogger(__name__)

# Asterisk announces a shutdown/restart before it closes the socket.
SHUTDOWN_EVENT = "Shutdown"


def to_panoramisk_message(message: AmiMessage) -> Message:
    """A panoramisk Message with the same headers; repeated keys and channel variables as lists."""
    headers: dict[str, Any] = dict(message.fields)
    for key, values in message.repeated.items():
        headers[key] = list(values)
    if message.chan_vars:
        # Always a list, so Message.getdict('ChanVariable') works with one variable too.
        headers["ChanVariable"] = [f"{name}={value}" for name, value in message.chan_vars.items()]
    return Message(headers)


@dataclass(frozen=True, slots=True)
class AmiReply:
    """The reply to an action: panoramisk's Message, read as text."""

    message: Any

    @property
    def success(self) -> bool:
        """What panoramisk counts as success (Response Success, Follows or Goodbye)."""
        return bool(self.message.success)

    def get(self, key: str, default: str = "") -> str:
        return str(self.message.get(key, default))

    def __repr__(self) -> str:
        return repr(self.message)


# panoramisk's AMIProtocol is untyped (Any): subclassing it is the point of this module.
class AmiProtocol(AMIProtocol):  # type: ignore[misc]
    """One AMI TCP connection: bytes in → our parser → events to ``on_event``, replies to panoramisk.

    ``wanted_events``: event names to parse; others are skipped after their first line.
    ``Shutdown`` is always wanted.  ``on_lost`` hears once that the connection is gone (Asterisk
    closed it, the network dropped it, or Asterisk announced a shutdown), never after :meth:`close`.
    ``stats`` may be shared by the protocols of successive connections, to count over all of them.
    """

    # Set by panoramisk's connection_made; declared here for the type checker.
    transport: Any
    responses: dict[str, Any]
    closed: bool
    encoding: str

    def __init__(
        self,
        on_event: Callable[[AmiMessage], None],
        on_lost: Callable[[BaseException | None], None],
        wanted_events: Iterable[str] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        stats: ParserStats | None = None,
    ) -> None:
        super().__init__()
        wanted = None if wanted_events is None else frozenset(wanted_events) | {SHUTDOWN_EVENT}
        self.parser = AmiStreamParser(wanted, max_message_bytes=max_message_bytes, stats=stats)
        self._on_event = on_event
        self._on_lost = on_lost

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.encoding = "utf-8"

    @property
    def banner(self) -> str | None:
        """The version from the ``Asterisk Call Manager/<version>`` line, once received."""
        return self.parser.banner

    def data_received(self, data: bytes) -> None:
        for message in self.parser.feed(data):
            self._dispatch(message)

    def _dispatch(self, message: AmiMessage) -> None:
        action_id = message.fields.get("ActionID")
        if action_id and action_id in self.responses:
            self.handle_message(to_panoramisk_message(message))
            return
        event = message.event
        if event is None:
            return  # a reply to an action this connection did not send, or already gave up on
        self._on_event(message)
        if event == SHUTDOWN_EVENT:
            log.warning("Asterisk is shutting down (%s)", message.get("Shutdown", "no reason given"))
            self.close()
            self._on_lost(ConnectionResetError("Asterisk sent Shutdown"))

    def send(self, action: Mapping[str, str]) -> asyncio.Future[Any]:
        """Send ``action`` (one with a single reply); the future resolves with the reply's Message."""
        data = actions.Action(dict(action), as_list=False)
        self.responses[data.id] = data
        future: asyncio.Future[Any] = data.future
        try:
            self.transport.write(str(data).encode(self.encoding))
        except Exception as exc:
            # Not panoramisk's send: it logs the whole action, a Login's secret included, when a write fails.
            log.warning("could not send AMI action %s: %s", action.get("Action", "?"), exc)
            self.responses.pop(data.id, None)
            future.set_exception(exc)
        return future

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.closed:
            self.close()
            self._on_lost(exc)

    def close(self) -> None:
        # Not panoramisk's close: it queues the unanswered actions on its Manager to send again after
        # a reconnect, and a DongleSendSMS sent twice is an SMS sent twice.
        self.responses.clear()
        if not self.closed:
            try:
                self.transport.close()
            finally:
                self.closed = True
