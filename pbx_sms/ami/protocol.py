"""panoramisk's AMI protocol with its byte handling replaced by our AmiStreamParser.

Stock panoramisk 1.4 decodes every TCP read on its own with ``errors='ignore'`` (a UTF-8
character split across two reads is lost), strips each message before splitting it into
headers (a trailing ``Key: `` with an empty value is dropped), and keeps a key that occurs
once as a string (``getdict('ChanVariable')`` fails on one channel variable).  This
protocol keeps panoramisk's action/response machinery (``send`` → future, ``handle_message``)
and hands events on as our :class:`AmiMessage`, parsed from bytes once a message is whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from pbx_sms.ami.parser import DEFAULT_MAX_MESSAGE_BYTES, AmiMessage, AmiStreamParser

log = logging.getLogger(__name__)

# Asterisk announces a shutdown/restart before it closes the socket.
SHUTDOWN_EVENT = "Shutdown"


class AmiEventSink(Protocol):
    """What the protocol reports to (the connection's panoramisk Manager)."""

    def ami_event_received(self, message: AmiMessage) -> None: ...

    def connection_lost(self, exc: BaseException | None) -> None: ...


def to_panoramisk_message(message: AmiMessage) -> Message:
    """A panoramisk Message with the same headers; repeated keys and channel variables as lists."""
    headers: dict[str, Any] = dict(message.fields)
    for key, values in message.repeated.items():
        headers[key] = list(values)
    if message.chan_vars:
        # Always a list, so Message.getdict('ChanVariable') works with one variable too.
        headers["ChanVariable"] = [f"{name}={value}" for name, value in message.chan_vars.items()]
    return Message(headers)


class AmiProtocol(AMIProtocol):
    """One AMI TCP connection: bytes in → our parser → events to the sink, responses to panoramisk.

    ``wanted_events``: event names to parse; others are skipped after their first line.
    ``Shutdown`` is always wanted.  ``sink`` (the connection's manager) receives the events
    and the loss of the connection; it is panoramisk's ``factory``, set before the first
    byte can arrive.
    """

    def __init__(
        self,
        sink: AmiEventSink | None = None,
        wanted_events: Iterable[str] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        super().__init__()
        wanted = None if wanted_events is None else frozenset(wanted_events) | {SHUTDOWN_EVENT}
        self.parser = AmiStreamParser(wanted, max_message_bytes=max_message_bytes)
        self.unsolicited_responses = 0
        self._sink = sink

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.factory = self._sink
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
            # A response to an action this connection did not send (or already gave up on).
            self.unsolicited_responses += 1
            return
        if self.factory is not None:
            self.factory.ami_event_received(message)
        if event == SHUTDOWN_EVENT:
            log.warning("Asterisk is shutting down (%s)", message.get("Shutdown", "no reason given"))
            self.close()
            if self.factory is not None:
                self.factory.connection_lost(ConnectionResetError("Asterisk sent Shutdown"))

    def send(self, data: Any, as_list: bool | None = False) -> Any:
        # panoramisk logs the whole action (a Login's secret included) when a write fails.
        if not isinstance(data, actions.Action):
            data = actions.Action(data, as_list=as_list)
        data.as_list = as_list
        self.responses[data.id] = data
        try:
            self.transport.write(str(data).encode(getattr(self, "encoding", "utf-8")))
        except Exception as exc:
            log.warning("could not send AMI action %s: %s", data.get("Action", "?"), exc)
            self.responses.pop(data.id, None)
            if not data.future.done():
                data.future.set_exception(exc)
        return data.future
