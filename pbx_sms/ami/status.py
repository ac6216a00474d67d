"""The AMI connection's state and counters, as ``pbx-sms status`` shows them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ConnectionState(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"


@dataclass(slots=True)
class ConnectionStatus:
    """Counters for ``pbx-sms status``: a snapshot, safe to hand out."""

    state: ConnectionState
    since: float
    connects: int = 0
    disconnects: int = 0
    auth_failures: int = 0
    failed_attempts: int = 0
    events: int = 0
    last_error: str | None = None
    server_version: str | None = None
    # What the parser threw away, over all connections: unwanted events skipped before parsing,
    # blocks without a single "Key: value" line, messages over max_message_bytes.
    skipped_events: int = 0
    malformed_messages: int = 0
    oversized_messages: int = 0
    retry_in_s: float | None = None
    # Since when the connection has not been up (never up counts from the start); None while up.
    down_since: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "since": self.since,
            "connects": self.connects,
            "disconnects": self.disconnects,
            "auth_failures": self.auth_failures,
            "failed_attempts": self.failed_attempts,
            "events": self.events,
            "last_error": self.last_error,
            "server_version": self.server_version,
            "skipped_events": self.skipped_events,
            "malformed_messages": self.malformed_messages,
            "oversized_messages": self.oversized_messages,
            "retry_in_s": self.retry_in_s,
            "down_since": self.down_since,
        }
