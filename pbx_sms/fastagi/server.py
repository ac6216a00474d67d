"""FastAGI on asyncio streams: Asterisk connects, sends one AGI request, gets one VERBOSE line back.

A session (res_agi.c ``launch_netscript`` and ``run_agi``): Asterisk sends ``agi_network: yes``,
``agi_network_script: PATH``, the channel's environment and the arguments, then an empty line; it
then reads commands until the server closes the connection (that ends the AGI; with AGISIGHUP
unset Asterisk then writes ``HANGUP``, which nobody needs to read). The server reads the request,
maps it exactly as the spawned hook does (pbx_sms.hangup.request), hands the call to ``on_call``
(the daemon's call recorder: durable batches, no waiting for the database), logs the outcome in
Asterisk's log with one VERBOSE command, and closes. The caller's channel waits for all of it.

Bounded: lines (the stream's limit), lines per request and request size (EnvironmentReader), time
to read the request, time for Asterisk's answer, and sessions at once. End of input mid-request
ends the session (the reads return b"", they never spin). Nothing a peer sends is a crash: it is
logged, counted and the connection closed. Secrets (the agi:// path) are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pbx_sms.config import ConfigError, FastAgiSettings, Settings
from pbx_sms.core.call import CompletedCall
from pbx_sms.fastagi.access import peer_address, peer_allowed, secret_matches, split_script_path
from pbx_sms.hangup.arguments import FASTAGI_SCRIPT_NAME
from pbx_sms.hangup.request import (
    MAX_LINE_BYTES,
    MAX_REQUEST_BYTES,
    AgiRequestError,
    EnvironmentReader,
    outcome_of_request,
    verbose_command,
)

log = logging.getLogger(__name__)

# Asterisk writes the whole request at once; a peer that takes longer is not Asterisk or is stuck.
READ_TIMEOUT_S = 5.0
# Asterisk answers VERBOSE at once ("200 result=1"); only its log line waits on it.
REPLY_TIMEOUT_S = 1.0
# A channel hanging up during the session may make Asterisk send HANGUP before its answer.
MAX_REPLY_LINES = 3
READ_CHUNK_BYTES = 16 * 1024
# Every session ends within the timeouts above, so this many at once is a flood, not a PBX.
MAX_SESSIONS = 256
# On stop, sessions under way get this long to finish (their calls are handed over already or not at all).
STOP_GRACE_S = 2.0
VERBOSE_OK_LEVEL = 3
VERBOSE_PROBLEM_LEVEL = 1


class FastAgiListenError(ConfigError):
    """The server cannot listen where the settings say."""


@dataclass
class FastAgiCounters:
    """Every request (connection) ends as exactly one of recorded, refused or errors."""

    requests: int = 0
    # Calls handed to the call recorder (written to the call log in its next batch).
    recorded: int = 0
    # Peers outside PBX_SMS_FASTAGI_ALLOW, and requests without the right secret.
    refused: int = 0
    # Everything else: malformed or oversized requests, sessions ended early, calls the arguments do not describe.
    errors: int = 0

    def to_json(self) -> dict[str, int]:
        return asdict(self)


class FastAgiServer:
    def __init__(
        self,
        settings: FastAgiSettings,
        on_call: Callable[[CompletedCall], None],
        *,
        country: str,
        internal_max_digits: int,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self._settings = settings
        self._on_call = on_call
        self._country = country
        self._internal_max_digits = internal_max_digits
        self._read_timeout_s = read_timeout_s
        self._secret = settings.secret.get_secret_value()
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[object]] = set()
        self.counters = FastAgiCounters()

    @classmethod
    def from_settings(cls, settings: Settings, on_call: Callable[[CompletedCall], None]) -> FastAgiServer:
        return cls(
            settings.fastagi,
            on_call,
            country=settings.country,
            internal_max_digits=settings.tracking.internal_max_digits,
        )

    @property
    def port(self) -> int:
        """The port listened on (the chosen one when the settings say 0)."""
        if self._server is None or not self._server.sockets:
            return self._settings.port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    async def start(self) -> None:
        host, port = self._settings.host, self._settings.port
        try:
            self._server = await asyncio.start_server(self._session, host, port, limit=MAX_LINE_BYTES)
        except OSError as exc:
            raise FastAgiListenError(
                f"cannot listen for FastAGI on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc} "
                "(PBX_SMS_FASTAGI_HOST, PBX_SMS_FASTAGI_PORT; PBX_SMS_FASTAGI_ENABLED=false turns it off)"
            ) from None
        allowed = ", ".join(map(str, self._settings.allow)) or "loopback only"
        log.info(
            "FastAGI listening on %s:%d (peers: %s; secret %s)",
            host,
            self.port,
            allowed,
            "required" if self._secret else "not set",
        )

    async def stop(self) -> None:
        """Accept no more connections; give sessions under way a moment, then end them."""
        if self._server is None:
            return
        self._server.close()
        if self._sessions:
            await asyncio.wait(set(self._sessions), timeout=STOP_GRACE_S)
        for task in set(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.wait(set(self._sessions))
        self._server = None
        log.info("FastAGI stopped: %s", self.counters.to_json())

    # --- one session ---------------------------------------------------------------------------

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        self.counters.requests += 1
        try:
            await self._serve(reader, writer)
        except Exception:
            self.counters.errors += 1
            log.exception("FastAGI session failed")
        finally:
            self._sessions.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(REPLY_TIMEOUT_S):
                    await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = peer_address(writer.get_extra_info("peername"))
        peer = str(address) if address is not None else "an unknown peer"
        if len(self._sessions) > MAX_SESSIONS:
            self.counters.errors += 1
            log.warning("FastAGI connection from %s closed: more than %d sessions at once", peer, MAX_SESSIONS)
            return
        if not peer_allowed(address, self._settings.allow):
            self.counters.refused += 1
            log.warning("FastAGI connection from %s refused: not in PBX_SMS_FASTAGI_ALLOW", peer)
            return
        request = EnvironmentReader()
        try:
            env = await self._read_request(reader, request)
        except AgiRequestError as exc:
            self.counters.errors += 1
            log.warning("FastAGI request from %s, call not recorded: %s", peer, exc)
            if not request.ended:
                # Asterisk is still there (the spawned hook answers these too).
                await self._reply(reader, writer, f"call not recorded: {exc}", VERBOSE_PROBLEM_LEVEL)
            return
        name, secret = split_script_path(env.get("agi_network_script", ""))
        if name != FASTAGI_SCRIPT_NAME:
            self.counters.errors += 1
            # Not shown: a path written the wrong way round would put the secret first.
            reason = (
                f"the agi:// path is not agi://HOST:PORT/{FASTAGI_SCRIPT_NAME} or .../{FASTAGI_SCRIPT_NAME}/SECRET: "
                "call not recorded"
            )
            log.warning("FastAGI request from %s: %s", peer, reason)
            await self._reply(reader, writer, reason, VERBOSE_PROBLEM_LEVEL)
            return
        if self._secret and not secret_matches(secret, self._secret):
            self.counters.refused += 1
            reason = "FastAGI request refused: wrong or missing secret in the agi:// path"
            log.warning("FastAGI request from %s refused: wrong or missing secret in the agi:// path", peer)
            await self._reply(reader, writer, reason, VERBOSE_PROBLEM_LEVEL)
            return
        outcome = outcome_of_request(env, self._country, self._internal_max_digits)
        linkedid = env.get("agi_arg_1", "")[:64] or "?"
        for note in outcome.notes:
            log.info("%s: %s", linkedid, note)
        call = outcome.call
        if call is None:
            self.counters.errors += 1
            log.warning("FastAGI request from %s, call not recorded: %s", peer, outcome.reason)
            await self._reply(reader, writer, f"call not recorded: {outcome.reason}", VERBOSE_PROBLEM_LEVEL)
            return
        self._on_call(call)
        self.counters.recorded += 1
        summary = f"{call.direction} {call.number or '-'} {call.other_party}, {call.status}, talk {call.talk_s} s"
        log.debug("FastAGI request from %s: call %s handed to the call log: %s", peer, call.call_id, summary)
        await self._reply(reader, writer, f"call {call.call_id} handed to the call log: {summary}", VERBOSE_OK_LEVEL)

    async def _read_request(self, reader: asyncio.StreamReader, request: EnvironmentReader) -> dict[str, str]:
        try:
            async with asyncio.timeout(self._read_timeout_s):
                data = await _read_to_empty_line(reader)
        except TimeoutError:
            request.ended = True  # a peer this slow gets no answer either
            raise AgiRequestError(f"no complete AGI request within {self._read_timeout_s:g} s") from None
        # Read in chunks (one read for ~35 lines, not one each), then through the same bounds as
        # the spawned hook's reads.
        return request.feed_request(data)

    async def _reply(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: str, level: int) -> None:
        """The outcome in Asterisk's log; Asterisk gone by now changes nothing."""
        try:
            writer.write(verbose_command(f"pbx-sms: {text}", level).encode())
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                await writer.drain()
                for _ in range(MAX_REPLY_LINES):
                    answer = await reader.readline()
                    if not answer.startswith(b"HANGUP"):
                        break
        except (TimeoutError, OSError, ValueError) as exc:
            log.debug("FastAGI: no answer to VERBOSE (%s)", type(exc).__name__)


async def _read_to_empty_line(reader: asyncio.StreamReader) -> bytes:
    """The request up to and with its empty line, in as few reads as it arrived in; what came
    before the end of input if that came first; at most about MAX_REQUEST_BYTES."""
    data = b""
    while len(data) <= MAX_REQUEST_BYTES:
        try:
            chunk = await reader.read(READ_CHUNK_BYTES)
        except OSError:
            chunk = b""  # the connection failed: the same as Asterisk closing it
        if not chunk:
            return data
        searched_from = max(0, len(data) - 2)
        data += chunk
        end = _empty_line_end(data, searched_from)
        if end is not None:
            # Asterisk sends nothing more before the first command; anything that came is dropped.
            return data[:end]
    return data


def _empty_line_end(data: bytes, start: int) -> int | None:
    if data.startswith(b"\n"):
        return 1
    if data.startswith(b"\r\n"):
        return 2
    ends = [found + len(separator) for separator in (b"\n\n", b"\n\r\n") if (found := data.find(separator, start)) >= 0]
    return min(ends) if ends else None
