"""What the outbox holds: SMS to queue, rows as stored, and the outcomes of a send (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pbx_sms.core.delivery import Delivery, DeliveryStatus, shown_delivery
from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.gateways.base import OutgoingSms


@dataclass(frozen=True, slots=True)
class NewSms:
    """One SMS to queue, as planned by the rule matcher for one completed call.

    ``reason`` set means the matcher already suppressed it (anonymous caller, landline ...): the row
    is stored as ``suppressed`` for the log and never sent.  ``other_party`` is the call's other party
    (the recipient may be a fixed number); cancel-on-reach and the minimum interval key on it.
    """

    account_id: int
    rule_id: int
    rule_name: str
    call_id: str
    other_party: str
    call_ended_at: datetime
    to: str
    sender: str
    text: str
    encoding: str
    parts: int
    due_at: datetime
    to_other_party: bool = True
    min_interval_s: int = 0
    cancel_on_reach: bool = False
    reason: Reason | None = None
    # The call is (pbx, call_id): two PBXs can produce the same Linkedid.
    pbx: str = ""
    # Queued by a PBX whose gateway is its own (a GSM dongle): only that PBX's worker may send it.
    local_to_pbx: bool = False


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row: an SMS and its history so far (the SMS log is these rows)."""

    id: int
    idempotency_key: str
    account_id: int
    rule_id: int
    rule_name: str
    call_id: str
    other_party: str
    call_ended_at: datetime
    to: str
    sender: str
    text: str
    encoding: str
    parts: int
    to_other_party: bool
    min_interval_s: int
    cancel_on_reach: bool
    status: Status
    reason: str | None
    scheduled_at: datetime
    due_at: datetime
    attempts: int
    locked_by: str | None
    locked_until: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    gateway: str | None
    message_id: str | None
    created_at: datetime
    updated_at: datetime
    # Why it goes out later than planned (quiet hours), with the time it was held from.
    note: str | None = None
    pbx: str = ""
    local_to_pbx: bool = False
    # Since when an attempt's outcome is unclear (None: no attempt so far had an unclear outcome). Set
    # by the first unclear attempt; kept once sent or failed (history); cleared by an operator's retry.
    unclear_since: datetime | None = None
    # The provider's last delivery report, on the rows the log reads (get, list); None when none came.
    # Reports live in their own table (storage.delivery_reports), matched by gateway and message id.
    delivery: Delivery | None = None

    @property
    def delivery_status(self) -> DeliveryStatus | None:
        """What the SMS log shows: a final report, ``unknown`` for a sent SMS without one, else None."""
        report = self.delivery.status if self.delivery is not None else None
        return shown_delivery(report, self.status is Status.SENT)

    def outgoing(self) -> OutgoingSms:
        return OutgoingSms(
            idempotency_key=self.idempotency_key,
            to=self.to,
            sender=self.sender,
            text=self.text,
            parts=self.parts,
            encoding=self.encoding,
            unclear_since=self.unclear_since,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            data[name] = value.isoformat() if isinstance(value, datetime) else value
        data["status"] = str(self.status)
        report = self.delivery
        data["delivery"] = (
            {"status": str(report.status), "at": report.at.isoformat(), "code": report.code} if report else None
        )
        data["delivery_status"] = str(self.delivery_status) if self.delivery_status is not None else None
        return data


@dataclass(frozen=True, slots=True)
class EnqueueReport:
    queued: tuple[int, ...] = ()
    suppressed: tuple[tuple[int, Reason], ...] = ()
    duplicates: int = 0
    cancelled_by_reach: int = 0
    # Queued rows whose due time the account's quiet hours moved: (row id, new due time).
    held: tuple[tuple[int, datetime], ...] = ()
    # Re-planning a call (pbx_sms.outbox.replan): rows of the weaker view cancelled, rows that took the
    # better view's text, rows that had gone out already (then nothing changed).
    cancelled_by_replan: int = 0
    rewritten: int = 0
    gone_out: int = 0


# The outcome of a claimed row's send, as the retry policy decides it (Released: not sent at all); a
# store applies one only while the worker that reports it still holds the row's lease.


@dataclass(frozen=True, slots=True)
class Sent:
    row_id: int
    gateway: str
    message_id: str | None


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Attempt again at ``due_at``. ``unclear_since`` set: an attempt may have gone out, so the row
    waits as ``unclear`` (counted as sent by the limits), else as ``queued``."""

    row_id: int
    due_at: datetime
    error: str
    unclear_since: datetime | None = None

    @property
    def status(self) -> Status:
        return Status.UNCLEAR if self.unclear_since is not None else Status.QUEUED


@dataclass(frozen=True, slots=True)
class Failed:
    row_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Released:
    """Handed back unsent (shutdown, or no free send slot before the lease ran short): queued again,
    due at once; the attempt counted when it was claimed does not count. A row claimed as ``unclear``
    goes back to ``unclear`` (``unclear_since`` kept)."""

    row_id: int
    unclear_since: datetime | None = None

    @property
    def status(self) -> Status:
        return Status.UNCLEAR if self.unclear_since is not None else Status.QUEUED


Outcome = Sent | RetryLater | Failed | Released


class OutboxError(Exception):
    """A request the outbox refuses (unknown row, wrong state); the message says which and why."""


@dataclass(frozen=True, slots=True)
class LogPosition:
    """A row's place in the SMS log's order (newest first: ``created_at``, then ``id``, descending)."""

    created_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which rows of the SMS log to list, newest first; ``number`` matches the recipient or the other party.

    ``since`` is inclusive, ``until`` exclusive (on ``created_at``); ``after`` continues a listing past the
    last row a previous page showed (keyset: rows inserted meanwhile never shift the later pages).
    """

    statuses: frozenset[Status] | None = None
    since: datetime | None = None
    number: str | None = None
    limit: int | None = None
    account_id: int | None = None
    rule_name: str | None = None
    until: datetime | None = None
    after: LogPosition | None = None
    delivery: DeliveryStatus | None = None

    def admits(self, row: OutboxRow) -> bool:
        """The same filter as a store's SQL (the contract suite checks that both say the same)."""
        return (
            (self.statuses is None or row.status in self.statuses)
            and (self.since is None or row.created_at >= self.since)
            and (self.until is None or row.created_at < self.until)
            and (self.number is None or self.number in (row.to, row.other_party))
            and (self.account_id is None or row.account_id == self.account_id)
            and (self.rule_name is None or row.rule_name == self.rule_name)
            and (self.after is None or (row.created_at, row.id) < (self.after.created_at, self.after.id))
            and (self.delivery is None or row.delivery_status == self.delivery)
        )


@dataclass(frozen=True, slots=True)
class ClaimScope:
    """Which rows a worker of ``pbx`` may send.

    A gateway local to its PBX (``local_gateway``: a GSM dongle) sends only that PBX's rows. Any other
    gateway sends the rows of every PBX except those bound to another PBX's own gateway, so an SMS that
    PBX A queued for its dongle never leaves through PBX B's HTTP provider.
    """

    pbx: str
    local_gateway: bool

    def admits(self, pbx: str, local_to_pbx: bool) -> bool:
        return pbx == self.pbx or (not self.local_gateway and not local_to_pbx)
