"""Rule matching: a completed call and an account's rules → the SMS to send and the suppressed ones (pure).

Rules are compiled once (:func:`compile_rules`) into :class:`CompiledRule` — frozensets, minute
windows and, for texts without placeholders, the finished text with its encoding — so the per-call
path does no pydantic work.  :func:`match_call` also takes :class:`~pbx_sms.core.rules.Rule`
objects and compiles each once, caching the result on the (frozen) rule.

Each enabled rule that matches yields one :class:`PlannedSms` per recipient.  ``reason`` is None
for an SMS to send, else one of :data:`~pbx_sms.core.reasons.MATCHER_REASONS`.  Checks run in this
order and the first that applies gives the reason: the account's SMS service (overrides everything), then the
recipient (anonymous, internal_number, invalid_number, country_not_allowed, landline, not_mobile),
then the text (too_many_parts).  Fixed recipients (a manager's mobile) are checked for validity and
country only: the admin chose them, so a landline there is the admin's call.  Opt-outs, minimum
intervals and daily caps need history and are decided by the outbox.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.encoding import analyse, transliterate
from pbx_sms.core.phone import Party, classify_party
from pbx_sms.core.reasons import Reason
from pbx_sms.core.rule_fields import OTHER_PARTY
from pbx_sms.core.rules import Rule
from pbx_sms.core.schedule import TimeWindows, zone
from pbx_sms.core.template import call_values, render

MISSED_STATUSES: Final = frozenset({"no_answer", "busy", "failed"})

_PARTY_REASONS: Final[dict[str, Reason | None]] = {
    "anonymous": Reason.ANONYMOUS,
    "internal": Reason.INTERNAL_NUMBER,
    "invalid": Reason.INVALID_NUMBER,
    "landline": Reason.LANDLINE,
    "other_number": Reason.NOT_MOBILE,
    "mobile": None,
}
_ESCAPED_BRACES = re.compile(r"\{\{|\}\}")


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    """What the matcher needs to know about an account. An empty ``allowed_countries`` means
    the account's own ``country`` only."""

    name: str
    timezone: str
    country: str
    allowed_countries: frozenset[str] = frozenset()
    sms_enabled: bool = True

    def __post_init__(self) -> None:
        allowed = frozenset(code.upper() for code in self.allowed_countries) or frozenset({self.country.upper()})
        object.__setattr__(self, "country", self.country.upper())
        object.__setattr__(self, "allowed_countries", allowed)


@dataclass(slots=True)
class PlannedSms:
    """One SMS a rule produced for a call; ``reason`` is None when it is to be sent. A value: do not
    modify it (not frozen only because a frozen dataclass costs ~1 µs more to build, per SMS).

    ``to_other_party`` tells the storage layer how ``min_interval_s`` counts: per recipient for the
    other party, per recipient and caller for a fixed recipient (a manager hears of each caller once
    per interval).  ``cancel_on_reach`` marks a missed-call
    SMS (the rule fires only on no_answer/busy/failed): it is cancelled if the number reaches a
    person before it is due.
    """

    rule: str
    to: str
    sender: str
    text: str
    encoding: str
    parts: int
    due_at: datetime
    reason: Reason | None
    to_other_party: bool
    min_interval_s: int
    cancel_on_reach: bool


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule prepared for fast matching. ``numbers`` None = all company numbers; ``windows`` None =
    always in force; ``static`` holds (text, encoding, parts) when the text has no placeholders;
    ``text`` is the template to render (with ``transliterate``, its literal text transliterated already)."""

    name: str
    enabled: bool
    directions: frozenset[str]
    numbers: frozenset[str] | None
    statuses: frozenset[str]
    evidence: frozenset[str]
    talk_min_s: int
    talk_max_s: int | None
    windows: TimeWindows | None
    sender: str
    recipients: tuple[str, ...]
    text: str
    transliterate: bool
    static: tuple[str, str, int] | None
    delay: timedelta
    min_interval_s: int
    max_parts: int | None
    cancel_on_reach: bool


def compile_rule(rule: Rule) -> CompiledRule:
    when, then = rule.when, rule.then
    directions = frozenset({"in", "out"}) if when.direction == "any" else frozenset({when.direction})
    windows = None
    if when.schedule is not None:
        compiled_windows = when.schedule.compile()
        windows = None if compiled_windows.always else compiled_windows
    static = None
    template = then.text
    if "{" not in _ESCAPED_BRACES.sub("", template) and "}" not in _ESCAPED_BRACES.sub("", template):
        text = render(template, {})
        if then.transliterate:
            text = transliterate(text)
        encoding = analyse(text)
        static = (text, encoding.encoding, encoding.parts)
    elif then.transliterate:
        template = _pretransliterated(template)
    statuses = frozenset(when.status)
    return CompiledRule(
        name=rule.name,
        enabled=rule.enabled,
        directions=directions,
        numbers=None if when.numbers == "all" else frozenset(when.numbers),
        statuses=statuses,
        evidence=frozenset(when.evidence),
        talk_min_s=(when.talk_s.min or 0) if when.talk_s is not None else 0,
        talk_max_s=when.talk_s.max if when.talk_s is not None else None,
        windows=windows,
        sender=then.sender,
        recipients=tuple(then.to),
        text=template,
        transliterate=then.transliterate,
        static=static,
        delay=timedelta(seconds=then.delay_s),
        min_interval_s=then.min_interval_s,
        max_parts=then.max_parts,
        cancel_on_reach=statuses <= MISSED_STATUSES,
    )


def _pretransliterated(template: str) -> str:
    """The template with its literal text transliterated once, so each call only transliterates
    what the placeholders added (nothing, usually: transliterate() returns GSM-7 text as it is).

    transliterate() works per character after NFC composition, so the result for every call is the
    same as transliterating the whole rendered text, unless a combining mark in the template could
    compose with a neighbour across a placeholder, or a replacement produced a brace: then the
    template is kept as written and the whole text is transliterated per call.
    """
    if any(unicodedata.combining(char) for char in template):
        return template
    literal = transliterate(template)
    if literal.count("{") != template.count("{") or literal.count("}") != template.count("}"):
        return template
    return literal


def compiled(rule: Rule | CompiledRule) -> CompiledRule:
    """The compiled form, built once per (frozen) Rule instance."""
    if isinstance(rule, CompiledRule):
        return rule
    # The private-attribute dict directly: pydantic's __getattr__ for private names is slow per call.
    private = rule.__pydantic_private__
    cached = private.get("_compiled") if private is not None else None
    if cached is None:
        cached = compile_rule(rule)
        rule._compiled = cached
    return cached


def compile_rules(rules: Sequence[Rule | CompiledRule]) -> tuple[CompiledRule, ...]:
    return tuple(compiled(rule) for rule in rules)


def _other_party_reason(party: Party, account: AccountPolicy) -> Reason | None:
    reason = _PARTY_REASONS[party.kind]
    if reason in {Reason.ANONYMOUS, Reason.INTERNAL_NUMBER, Reason.INVALID_NUMBER}:
        return reason
    if party.region not in account.allowed_countries:
        return Reason.COUNTRY_NOT_ALLOWED
    return reason


def _fixed_reason(party: Party, account: AccountPolicy) -> Reason | None:
    if party.e164 is None:
        return _PARTY_REASONS[party.kind] or Reason.INVALID_NUMBER
    if party.region not in account.allowed_countries:
        return Reason.COUNTRY_NOT_ALLOWED
    return None


def match_call(
    call: CompletedCall,
    account: AccountPolicy,
    rules: Sequence[Rule | CompiledRule],
    internal_max_digits: int = 5,
) -> list[PlannedSms]:
    """Every SMS the account's enabled, matching rules produce for ``call``, in rule order."""
    if call.direction == "internal":
        return []
    planned: list[PlannedSms] = []
    local_end: datetime | None = None
    values: dict[str, str] | None = None
    other_party: Party | None = None
    for item in rules:
        rule = item if isinstance(item, CompiledRule) else compiled(item)
        if (
            not rule.enabled
            or call.direction not in rule.directions
            or call.status not in rule.statuses
            or call.evidence not in rule.evidence
            or (rule.numbers is not None and call.number not in rule.numbers)
            or call.talk_s < rule.talk_min_s
            or (rule.talk_max_s is not None and call.talk_s > rule.talk_max_s)
        ):
            continue
        if rule.windows is not None:
            if local_end is None:
                local_end = call.ended_at.astimezone(zone(account.timezone))
            if not rule.windows.contains_local(local_end):
                continue
        if rule.static is not None:
            text, encoding, parts = rule.static
        else:
            if values is None:
                values = call_values(call, rule.name, account.timezone)
            text = render(rule.text, {**values, "rule": rule.name})
            if rule.transliterate:
                text = transliterate(text)
            analysed = analyse(text)
            encoding, parts = analysed.encoding, analysed.parts
        too_many_parts = rule.max_parts is not None and parts > rule.max_parts
        due_at = call.ended_at + rule.delay
        for recipient in rule.recipients:
            to_other_party = recipient == OTHER_PARTY
            if to_other_party:
                if other_party is None:
                    other_party = classify_party(call.other_party, account.country, internal_max_digits)
                party = other_party
                reason = _other_party_reason(party, account)
            else:
                party = classify_party(recipient, account.country, internal_max_digits)
                reason = _fixed_reason(party, account)
            if not account.sms_enabled:
                reason = Reason.SERVICE_INACTIVE
            elif reason is None and too_many_parts:
                reason = Reason.TOO_MANY_PARTS
            planned.append(
                PlannedSms(
                    rule=rule.name,
                    to=party.display,
                    sender=rule.sender,
                    text=text,
                    encoding=encoding,
                    parts=parts,
                    due_at=due_at,
                    reason=reason,
                    to_other_party=to_other_party,
                    min_interval_s=rule.min_interval_s,
                    cancel_on_reach=rule.cancel_on_reach,
                )
            )
    return planned
