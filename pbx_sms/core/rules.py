"""The rule model: pydantic models that mirror the YAML rule-file format one to one.

Models are frozen: change a rule with ``rule.model_copy(update=...)`` (the matcher caches its
compiled form on the instance).  Unknown keys are errors everywhere, so a typo such as
``delay: 60`` is reported instead of ignored.  Validation messages say what was expected;
:mod:`pbx_sms.core.rulefile` adds the file, line and field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pbx_sms.core.call import CallStatus, Evidence
from pbx_sms.core.phone import is_e164
from pbx_sms.core.schedule import WEEKDAYS, TimeWindows, format_clock, parse_clock
from pbx_sms.core.template import template_errors

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
RuleDirection = Literal["in", "out", "any"]
OTHER_PARTY = "other_party"
MAX_PARTS_LIMIT = 255  # a concatenated SMS has at most 255 parts (one-byte counter in the UDH)
SENDER_ID_HELP = (
    "expected a sender ID: alphanumeric (1-11 characters of A-Z a-z 0-9 space - _ . with at least one letter) "
    "or numeric (up to 15 digits, a phone number in international format)"
)
DUPLICATE_RULE_NAME = "duplicate_rule_name"

_ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z0-9 ._-]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\+?\d{1,15}$")


def _scalar_string(value: Any) -> Any:
    """Strings must arrive as strings: YAML 1.1 turns some unquoted words into other types."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "quote_string",
            "expected a string, got {value}: YAML reads unquoted yes/no/on/off/true/false as a boolean - "
            "put the value in quotes",
            {"value": str(value).lower()},
        )
    if isinstance(value, int | float):
        raise PydanticCustomError(
            "quote_string",
            "expected a string, got the number {value}: YAML reads unquoted digits (also +48...) as a number - "
            'put the value in quotes, e.g. "+48600100100"',
            {"value": value},
        )
    return value


QuotedStr = Annotated[str, BeforeValidator(_scalar_string)]


def _check_e164(value: str) -> str:
    if not is_e164(value):
        raise PydanticCustomError(
            "e164",
            "expected a phone number in E.164 form (+ country code and number, no spaces), got {value}",
            {"value": repr(value)},
        )
    return value


def _check_sender(value: str) -> str:
    if _ALPHANUMERIC_SENDER.match(value) and any(char.isalpha() for char in value):
        if value != value.strip():
            raise PydanticCustomError("sender_id", "a sender ID must not start or end with a space")
        return value
    if _NUMERIC_SENDER.match(value) and is_e164("+" + value.lstrip("+")):
        return value
    raise PydanticCustomError("sender_id", SENDER_ID_HELP + ", got {value}", {"value": repr(value)})


def _check_recipient(value: str) -> str:
    if value == OTHER_PARTY:
        return value
    if not is_e164(value):
        raise PydanticCustomError(
            "recipient",
            'expected "other_party" or a phone number in E.164 form (e.g. "+48600100100"), got {value}',
            {"value": repr(value)},
        )
    return value


def _check_clock(value: Any, *, allow_24: bool) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 18:00 as the base-60 integer 1080; the number alone cannot tell 18:00 from 18.
        hint = f'; write "{format_clock(value)}"' if 0 <= value < 24 * 60 else ""
        raise PydanticCustomError(
            "clock_unquoted",
            'expected "HH:MM" in quotes, got the number {value}: YAML reads an unquoted time like 18:00 '
            "as a base-60 number (18*60 = 1080){hint}",
            {"value": value, "hint": hint},
        )
    if not isinstance(value, str):
        raise PydanticCustomError("clock", 'expected "HH:MM", got {value}', {"value": repr(value)})
    try:
        return format_clock(parse_clock(value, allow_24=allow_24))
    except ValueError as exc:
        raise PydanticCustomError("clock", str(exc)) from None


def _unique(values: list[Any], what: str) -> list[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError(
                "duplicate", "{what} {value} is listed twice", {"what": what, "value": repr(value)}
            )
        seen.add(value)
    return values


E164 = Annotated[QuotedStr, AfterValidator(_check_e164)]
Recipient = Annotated[QuotedStr, AfterValidator(_check_recipient)]
ClockFrom = Annotated[str, BeforeValidator(lambda value: _check_clock(value, allow_24=False))]
ClockTo = Annotated[str, BeforeValidator(lambda value: _check_clock(value, allow_24=True))]


def _numbers_kind(value: Any) -> str | None:
    if value == "all":
        return "all"
    if isinstance(value, list):
        return "list"
    return None


Numbers = Annotated[
    Annotated[list[E164], Tag("list"), Field(min_length=1)] | Annotated[Literal["all"], Tag("all")],
    Discriminator(
        _numbers_kind,
        custom_error_type="numbers",
        custom_error_message='expected "all" or a list of company numbers in E.164 form',
    ),
]


# Every value of Evidence, from the most to the least completely seen (pbx_sms.core.views.VIEW_RANK).
EVIDENCE_KINDS: tuple[Evidence, ...] = ("full", "hook", "gap", "cdr", "hint")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, str_strip_whitespace=False)


class TalkBounds(_Model):
    """Talk time bounds in seconds, both inclusive, both optional."""

    min: StrictInt | None = Field(None, ge=0)
    max: StrictInt | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> TalkBounds:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError(
                "talk_bounds", "min ({min}) must not exceed max ({max})", {"min": self.min, "max": self.max}
            )
        return self


class DateRange(_Model):
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.from_ > self.to:
            raise PydanticCustomError(
                "dates_order",
                "from ({start}) must not be after to ({end})",
                {"start": self.from_.isoformat(), "end": self.to.isoformat()},
            )
        return self


class HourWindow(_Model):
    """``from`` inclusive, ``to`` exclusive; ``to`` before ``from`` crosses midnight; equal = 24 hours."""

    from_: ClockFrom = Field(alias="from")
    to: ClockTo

    def minutes(self) -> tuple[int, int]:
        return parse_clock(self.from_), parse_clock(self.to, allow_24=True)


class Schedule(_Model):
    """When the rule is in force; a part left out does not restrict (see pbx_sms.core.schedule)."""

    dates: Annotated[list[DateRange], Field(min_length=1)] | None = None
    weekdays: Annotated[list[Weekday], Field(min_length=1)] | None = None
    hours: Annotated[list[HourWindow], Field(min_length=1)] | None = None

    @field_validator("weekdays")
    @classmethod
    def _unique_weekdays(cls, value: list[str] | None) -> list[str] | None:
        # Kept in week order, so a rule and its exported document compare equal.
        return None if value is None else sorted(_unique(value, "weekday"), key=WEEKDAYS.index)

    def compile(self) -> TimeWindows:
        return TimeWindows.build(
            dates=None if self.dates is None else [(item.from_, item.to) for item in self.dates],
            weekdays=self.weekdays,
            hours=None if self.hours is None else [window.minutes() for window in self.hours],
        )


class When(_Model):
    direction: RuleDirection
    numbers: Numbers
    status: Annotated[list[CallStatus], Field(min_length=1)]
    talk_s: TalkBounds | None = None
    schedule: Schedule | None = None
    # How completely the call must have been seen (pbx_sms.core.call.Evidence); default: any call.
    evidence: Annotated[list[Evidence], Field(min_length=1)] = Field(default_factory=lambda: list(EVIDENCE_KINDS))

    @field_validator("numbers")
    @classmethod
    def _unique_numbers(cls, value: list[str] | str) -> list[str] | str:
        return _unique(value, "number") if isinstance(value, list) else value

    @field_validator("status")
    @classmethod
    def _unique_status(cls, value: list[str]) -> list[str]:
        return _unique(value, "status")

    @field_validator("evidence")
    @classmethod
    def _unique_evidence(cls, value: list[str]) -> list[str]:
        # Kept in EVIDENCE_KINDS order, so a rule and its exported document compare equal.
        return sorted(_unique(value, "evidence"), key=EVIDENCE_KINDS.index)

    @property
    def acts_on_every_call(self) -> bool:
        """True unless the rule leaves out calls seen only in part (evidence gap, cdr, hook or hint)."""
        return len(self.evidence) == len(EVIDENCE_KINDS)


class Then(_Model):
    sender: QuotedStr
    to: Annotated[list[Recipient], Field(min_length=1)]
    text: QuotedStr
    delay_s: StrictInt = Field(0, ge=0)
    min_interval_s: StrictInt = Field(0, ge=0)
    max_parts: StrictInt | None = Field(None, ge=1, le=MAX_PARTS_LIMIT)
    transliterate: StrictBool = False

    @field_validator("sender")
    @classmethod
    def _valid_sender(cls, value: str) -> str:
        return _check_sender(value)

    @field_validator("to")
    @classmethod
    def _unique_recipients(cls, value: list[str]) -> list[str]:
        return _unique(value, "recipient")

    @field_validator("text")
    @classmethod
    def _valid_text(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("text_empty", "the message text must not be empty")
        errors = template_errors(value)
        if errors:
            raise PydanticCustomError("template", "{errors}", {"errors": "; ".join(errors)})
        return value


class Rule(_Model):
    name: QuotedStr = Field(min_length=1, max_length=200)
    enabled: StrictBool = True
    when: When
    then: Then

    _compiled: Any = PrivateAttr(default=None)  # cache owned by pbx_sms.core.matching

    def __eq__(self, other: object) -> bool:
        # Equal rules are equal whether or not the matcher has cached its compiled form on one of them.
        if not isinstance(other, Rule):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # list fields: not hashable

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("name_empty", "the rule name must not be empty")
        if any(char in value for char in "\r\n\t"):
            raise PydanticCustomError("name_chars", "the rule name must be one line without tabs")
        return value


class RuleFile(_Model):
    account: QuotedStr = Field("default", min_length=1, max_length=100)
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_names(self) -> RuleFile:
        duplicates = duplicate_names([rule.name for rule in self.rules])
        if duplicates:
            raise PydanticCustomError(
                DUPLICATE_RULE_NAME,
                "rule names must be unique within a file: {names}",
                {"names": ", ".join(repr(name) for name in duplicates)},
            )
        return self


def duplicate_names(names: list[str]) -> list[str]:
    seen: set[str] = set()
    duplicates: list[str] = []
    for name in names:
        if name in seen and name not in duplicates:
            duplicates.append(name)
        seen.add(name)
    return duplicates


def rule_to_document(rule: Rule) -> dict[str, Any]:
    """The rule as the rule-file format: fixed key order, optional parts left out when unset."""
    when: dict[str, Any] = {
        "direction": rule.when.direction,
        "numbers": rule.when.numbers if rule.when.numbers == "all" else list(rule.when.numbers),
        "status": list(rule.when.status),
    }
    if rule.when.talk_s is not None:
        bounds = {key: getattr(rule.when.talk_s, key) for key in ("min", "max")}
        when["talk_s"] = {key: value for key, value in bounds.items() if value is not None}
    if not rule.when.acts_on_every_call:
        when["evidence"] = list(rule.when.evidence)
    if rule.when.schedule is not None:
        schedule = rule.when.schedule
        part: dict[str, Any] = {}
        if schedule.dates is not None:
            part["dates"] = [{"from": item.from_, "to": item.to} for item in schedule.dates]
        if schedule.weekdays is not None:
            part["weekdays"] = list(schedule.weekdays)
        if schedule.hours is not None:
            part["hours"] = [{"from": window.from_, "to": window.to} for window in schedule.hours]
        when["schedule"] = part
    then: dict[str, Any] = {
        "sender": rule.then.sender,
        "to": list(rule.then.to),
        "text": rule.then.text,
        "delay_s": rule.then.delay_s,
        "min_interval_s": rule.then.min_interval_s,
    }
    if rule.then.max_parts is not None:
        then["max_parts"] = rule.then.max_parts
    then["transliterate"] = rule.then.transliterate
    return {"name": rule.name, "enabled": rule.enabled, "when": when, "then": then}


def rule_file_to_document(rule_file: RuleFile) -> dict[str, Any]:
    return {"account": rule_file.account, "rules": [rule_to_document(rule) for rule in rule_file.rules]}
