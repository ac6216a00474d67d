"""One described call → the SMS an account's rules would send for it, or suppress and why (nothing is sent).

`pbx-sms simulate` and ``POST /api/v1/accounts/{account}/simulate`` both answer with ``simulate_call``:
one JSON object per SMS (keys ``OUTPUT_KEYS``, with quiet hours also ``QUIET_HOURS_KEYS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from sqlalchemy.orm import Session

from pbx_sms.core.call import CallStatus, CompletedCall, Direction
from pbx_sms.core.matching import AccountPolicy, PlannedSms, match_call
from pbx_sms.core.phone import normalise
from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.core.rules import Rule
from pbx_sms.core.schedule import zone
from pbx_sms.storage.accounts import account_for_number, get_account, to_config
from pbx_sms.storage.rule_store import load_account_rules

OUTPUT_KEYS: Final = ("rule", "to", "sender", "text", "encoding", "parts", "due_at", "reason")
# Added when the account has quiet hours: the time before they held the SMS (end of call + delay).
QUIET_HOURS_KEYS: Final = ("wanted_at", "quiet_hours")
SIMULATED_CALL_ID: Final = "simulated"
_T = TypeVar("_T")
# What a described call may be (an internal call never sends an SMS).
DIRECTIONS: Final[dict[str, Direction]] = {"in": "in", "out": "out"}
STATUSES: Final[dict[str, CallStatus]] = {
    "answered": "answered",
    "no_answer": "no_answer",
    "busy": "busy",
    "failed": "failed",
}


class SimulationInvalid(ValueError):
    """A described call that cannot be simulated; ``field`` names the argument, ``message`` starts with
    its value as given."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class DescribedCall:
    """A call as a person describes it; ``at`` is its end, ISO 8601 (no offset: the account's time zone)."""

    direction: str
    number: str  # the company number, E.164 (``company_number``)
    other: str
    status: str
    talk_s: int = 0
    at: str | None = None


@dataclass(frozen=True, slots=True)
class SimulationSetup:
    """The rules to try and the account they belong to, with the quiet hours that hold its SMS."""

    account: AccountPolicy
    rules: Sequence[Rule]
    quiet_hours: QuietHours | None = None


def company_number(raw: str, country: str) -> str:
    number = normalise(raw, country)
    if number is None:
        raise SimulationInvalid("number", f"{raw!r} is not a valid phone number (read with country {country})")
    return number


def account_setup(session: Session, account_name: str) -> SimulationSetup:
    """The account's enabled, valid rules and its quiet hours."""
    policy, rules = load_account_rules(session, account_name)
    return SimulationSetup(policy, rules, to_config(get_account(session, account_name)).quiet_hours)


def document_setup(session: Session, account_name: str, rule: Rule) -> SimulationSetup:
    """One rule not saved yet, as the account would run it (enabled: what it would do is the question)."""
    config = to_config(get_account(session, account_name))
    enabled = rule if rule.enabled else rule.model_copy(update={"enabled": True})
    return SimulationSetup(config.policy(), [enabled], config.quiet_hours)


def number_setup(session: Session, e164: str | None) -> SimulationSetup:
    """``account_setup`` of the account that owns the company number (``default`` if none does)."""
    return account_setup(session, account_for_number(session, e164).name)


def simulate_call(
    described: DescribedCall, setup: SimulationSetup, *, internal_max_digits: int, now: datetime
) -> list[dict[str, object]]:
    """Each SMS the setup's rules produce for the call, in rule order; ``now`` is the call's end without ``at``."""
    account = setup.account
    direction = _one_of("direction", described.direction, DIRECTIONS)
    status = _one_of("status", described.status, STATUSES)
    ended_at = call_end(described.at, account.timezone, now)
    try:
        call = CompletedCall(
            call_id=SIMULATED_CALL_ID,
            direction=direction,
            number=described.number,
            other_party=normalise(described.other, account.country) or described.other.strip(),
            status=status,
            talk_s=described.talk_s,
            started_at=ended_at - timedelta(seconds=described.talk_s),
            ended_at=ended_at,
        )
        planned = match_call(call, account, setup.rules, internal_max_digits=internal_max_digits)
        return [planned_sms_json(sms, account.timezone, setup.quiet_hours) for sms in planned]
    except OverflowError:
        # A call near 0001-01-01 or 9999-12-31: its start, or an SMS due after it, has no date.
        ended = "now" if described.at is None else repr(described.at)
        raise SimulationInvalid(
            "at", f"{ended} with talk_s {described.talk_s}: the call or its SMS fall outside 0001-01-01..9999-12-31"
        ) from None


def _one_of(field: str, value: str, allowed: Mapping[str, _T]) -> _T:
    if value not in allowed:
        raise SimulationInvalid(field, f"{value!r}: expected one of {', '.join(allowed)}")
    return allowed[value]


def call_end(at: str | None, timezone: str, now: datetime) -> datetime:
    if at is None:
        return now
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise SimulationInvalid("at", f"{at!r}: expected an ISO 8601 time such as 2026-11-25T10:00:00+01:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise SimulationInvalid("at", f"{at!r}: outside 0001-01-01..9999-12-31 in UTC") from None


def planned_sms_json(sms: PlannedSms, timezone: str, quiet_hours: QuietHours | None = None) -> dict[str, object]:
    """One SMS for the output; with quiet hours, its due time as the outbox would hold it."""
    tz = zone(timezone)
    due_at = sms.due_at
    # The outbox holds only SMS it would send; a suppressed one keeps its time.
    if quiet_hours is not None and sms.reason is None:
        due_at = quiet_hours.next_allowed(sms.due_at, timezone)
    values: dict[str, object] = {
        "rule": sms.rule,
        "to": sms.to,
        "sender": sms.sender,
        "text": sms.text,
        "encoding": sms.encoding,
        "parts": sms.parts,
        "due_at": due_at.astimezone(tz).isoformat(),
        "reason": sms.reason,
    }
    if quiet_hours is None:
        return {key: values[key] for key in OUTPUT_KEYS}
    values |= {"wanted_at": sms.due_at.astimezone(tz).isoformat(), "quiet_hours": str(quiet_hours)}
    return {key: values[key] for key in OUTPUT_KEYS + QUIET_HOURS_KEYS}
