"""panoramisk 1.4's parsing bugs, proven on the stock classes, and fixed by our AmiProtocol.

Each test first asserts that stock panoramisk gets it WRONG (so if a panoramisk release fixes
it, the test says so), then that our protocol gets it right.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from ami_server import AmiSession, FakeAmiServer
from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message
from paths import FIXTURES
from pydantic import SecretStr

from pbx_sms.ami.connection import AmiConnection, ConnectionConfig
from pbx_sms.ami.parser import AmiMessage
from pbx_sms.ami.protocol import AmiProtocol, to_panoramisk_message

POLISH_NAME = "Łukasz Żółć-Gęślą"
NEWCALLERID = (
    "Event: NewCallerid\r\nPrivilege: call,all\r\nTimestamp: 1795574695.473013\r\n"
    "Channel: Local/48221234567@from-trunk-00000002;1\r\nCallerIDNum: +48601234567\r\n"
    f"CallerIDName: {POLISH_NAME}\r\nUniqueid: 1795574695.4\r\nLinkedid: 1795574695.4\r\n\r\n"
).encode()
ONE_CHANVAR = (
    b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/201-00000001\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n"
    b"ChanVariable: PBXSMS_DID=+48221234567\r\n\r\n"
)
TRAILING_EMPTY = (
    b"Event: Cdr\r\nPrivilege: cdr,all\r\nUniqueID: 1.1\r\nDisposition: ANSWERED\r\nAnswerTime: \r\nUserField: \r\n\r\n"
)


class _FakeTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class _StockFactory:
    """What panoramisk's AMIProtocol needs from its Manager, recording dispatched events."""

    forgetable_actions = ("ping", "login")

    def __init__(self) -> None:
        self.events: list[Message] = []
        self.awaiting_actions: list[Any] = []

    def dispatch(self, message: Message) -> None:
        self.events.append(message)


def stock_events(chunks: list[bytes]) -> list[Message]:
    protocol = AMIProtocol()
    protocol.connection_made(_FakeTransport())
    factory = _StockFactory()
    protocol.factory = factory
    protocol.encoding = "utf8"  # what Manager sets
    for chunk in chunks:
        protocol.data_received(chunk)
    return factory.events


def our_events(chunks: list[bytes]) -> list[AmiMessage]:
    events: list[AmiMessage] = []
    protocol = AmiProtocol(events.append, lambda _exc: None)
    protocol.connection_made(_FakeTransport())
    for chunk in chunks:
        protocol.data_received(chunk)
    return events


def split_inside(data: bytes, character: str) -> list[bytes]:
    """Two chunks, cut between the bytes of ``character``'s UTF-8 encoding."""
    cut = data.index(character.encode()) + 1
    return [data[:cut], data[cut:]]


@pytest.mark.parametrize("character", ["Ł", "Ż", "ó", "ą"])
def test_utf8_character_split_across_reads(character: str) -> None:
    chunks = split_inside(NEWCALLERID, character)
    stock = stock_events(chunks)
    assert len(stock) == 1
    assert stock[0]["CallerIDName"] != POLISH_NAME, "panoramisk fixed the split UTF-8 bug"
    assert character not in stock[0]["CallerIDName"]

    ours = our_events(chunks)
    assert [event.get("CallerIDName") for event in ours] == [POLISH_NAME]


def test_every_split_of_a_real_recording_keeps_the_polish_name() -> None:
    data = (FIXTURES / "in_polish_name.callcdr.ami").read_bytes()
    start = data.index(POLISH_NAME.encode()) - 200
    end = data.index(b"\r\n\r\n", start + 400) + 4
    whole = our_events([data])
    names = [e.get("CallerIDName") for e in whole if POLISH_NAME in e.get("CallerIDName")]
    assert names
    for cut in range(start, end):
        events = our_events([data[:cut], data[cut:]])
        assert [e.fields for e in events] == [e.fields for e in whole], cut


def test_single_chanvariable_line() -> None:
    stock = stock_events([ONE_CHANVAR])
    assert len(stock) == 1
    with pytest.raises(TypeError):
        stock[0].getdict("ChanVariable")  # panoramisk keeps a key seen once as a string

    ours = our_events([ONE_CHANVAR])
    assert ours[0].chan_vars == {"PBXSMS_DID": "+48221234567"}
    # Where a panoramisk Message is needed, ours is built with the variables as a list.
    assert to_panoramisk_message(ours[0]).getdict("ChanVariable")["pbxsms_did"] == "+48221234567"


def test_trailing_empty_header() -> None:
    stock = stock_events([TRAILING_EMPTY])
    assert len(stock) == 1
    assert "AnswerTime" in stock[0]  # an empty header in the middle survives ...
    assert "UserField" not in stock[0]  # ... the last one is stripped away

    ours = our_events([TRAILING_EMPTY])
    assert ours[0].fields["UserField"] == ""
    assert ours[0].fields["AnswerTime"] == ""


def test_real_cdr_events_keep_their_trailing_userfield() -> None:
    data = (FIXTURES / "in_answered.callcdr.ami").read_bytes()
    stock_cdrs = [e for e in stock_events([data]) if e["Event"] == "Cdr"]
    our_cdrs = [e for e in our_events([data]) if e.event == "Cdr"]
    assert len(stock_cdrs) == len(our_cdrs) == 3
    assert all("UserField" not in e for e in stock_cdrs)
    assert all(e.fields["UserField"] == "" for e in our_cdrs)


# --- the same over real TCP, the server writing the event in two pieces -----------------


def split_writer(data: bytes, character: str) -> Callable[[AmiSession], Any]:
    cut = data.index(character.encode()) + 1

    async def handler(session: AmiSession) -> None:
        await session.send(data, split_at=[cut], pause_s=0.05)

    return handler


async def test_stock_manager_loses_a_split_character_over_tcp() -> None:
    async with FakeAmiServer(secret="x", handler=split_writer(NEWCALLERID, "Ż")) as server:
        received: list[Message] = []
        manager = Manager(
            host=server.host,
            port=server.port,
            username="pbx-sms",
            secret="x",
            loop=asyncio.get_running_loop(),
            ping_delay=60,
        )
        manager.register_event("NewCallerid", lambda _manager, event: received.append(event))
        await manager.connect()
        try:
            for _ in range(200):
                if received:
                    break
                await asyncio.sleep(0.01)
        finally:
            manager.close()
        assert len(received) == 1
        assert received[0]["CallerIDName"] == "Łukasz ółć-Gęślą"


async def test_our_connection_keeps_a_split_character_over_tcp() -> None:
    async with FakeAmiServer(secret="x", handler=split_writer(NEWCALLERID, "Ż")) as server:
        received: list[AmiMessage] = []
        config = ConnectionConfig(host=server.host, port=server.port, username="pbx-sms", secret=SecretStr("x"))
        connection = AmiConnection(config, received.append, wanted_events={"NewCallerid"})
        task = asyncio.create_task(connection.run())
        try:
            for _ in range(200):
                if received:
                    break
                await asyncio.sleep(0.01)
        finally:
            connection.stop()
            await asyncio.wait_for(task, 2)
        assert [event.get("CallerIDName") for event in received] == [POLISH_NAME]
