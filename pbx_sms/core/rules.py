"""The rule model: pydantic models that mirror the YAML rule-file format one to one.

Models are frozen: change a rule with ``rule.model_copy(update=...)`` (the matcher caches its
compiled form on the instance).  Unknown keys are errors everywhere, so a typo such as
``delay: 60`` is reported instead of ignored.  Validation messages say what was expected;
:mod:`pbx_sms.core.rulefile` adds the file, line and field.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pbx_sms.core.bounds import ACCOUNT_NAME_MAX_CHARS, INTEGER_MAX, RULE_NAME_MAX_CHARS
from pbx_sms.core.call import CallStatus, Evidence
from pbx_sms.core.rule_fields import (
    E164,
    ClockFrom,
    ClockTo,
    QuotedStr,
    Recipient,
    check_sender,
    unique_values,
)
from pbx_sms.core.schedule import WEEKDAYS, TimeWindows, parse_clock
from pbx_sms.core.template import template_errors
from pbx_sms.core.text_safety import has_controls
from pbx_sms.core.text_size import MAX_PARTS_LIMIT, MAX_TEXT_CHARS, text_size, too_long_message

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
RuleDirection = Literal["in", "out", "any"]
DUPLICATE_RULE_NAME = "duplicate_rule_name"
# Reported on ``then`` (the check needs the rule's name for {rule}), about ``then.text``: see error_location.
TEXT_TOO_LONG = "text_too_long"
# Seconds and counts are stored in integer columns; nothing a rule needs comes near (68 years).
Seconds = Annotated[StrictInt, Field(ge=0, le=INTEGER_MAX)]
# In a text, line breaks, tabs and the form feed of the GSM-7 alphabet are text; other control characters
# (NUL, ESC, BEL ...) are not, and PostgreSQL cannot store a NUL.
_TEXT_CONTROLS_ALLOWED = "\t\n\r\f"


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

    min: Seconds | None = None
    max: Seconds | None = None

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
        return None if value is None else sorted(unique_values(value, "weekday"), key=WEEKDAYS.index)

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
        return unique_values(value, "number") if isinstance(value, list) else value

    @field_validator("status")
    @classmethod
    def _unique_status(cls, value: list[str]) -> list[str]:
        return unique_values(value, "status")

    @field_validator("evidence")
    @classmethod
    def _unique_evidence(cls, value: list[str]) -> list[str]:
        # Kept in EVIDENCE_KINDS order, so a rule and its exported document compare equal.
        return sorted(unique_values(value, "evidence"), key=EVIDENCE_KINDS.index)

    @property
    def acts_on_every_call(self) -> bool:
        """True unless the rule leaves out calls seen only in part (evidence gap, cdr, hook or hint)."""
        return len(self.evidence) == len(EVIDENCE_KINDS)


class Then(_Model):
    sender: QuotedStr
    to: Annotated[list[Recipient], Field(min_length=1)]
    text: QuotedStr
    delay_s: Seconds = 0
    min_interval_s: Seconds = 0
    max_parts: StrictInt | None = Field(None, ge=1, le=MAX_PARTS_LIMIT)
    transliterate: StrictBool = False

    @field_validator("sender")
    @classmethod
    def _valid_sender(cls, value: str) -> str:
        return check_sender(value)

    @field_validator("to")
    @classmethod
    def _unique_recipients(cls, value: list[str]) -> list[str]:
        return unique_values(value, "recipient")

    @field_validator("text")
    @classmethod
    def _valid_text(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("text_empty", "the message text must not be empty")
        if len(value) > MAX_TEXT_CHARS:
            raise PydanticCustomError(
                TEXT_TOO_LONG,
                "the text has {chars} characters; at most {limit} fit in the {parts} parts an SMS can have",
                {"chars": len(value), "limit": MAX_TEXT_CHARS, "parts": MAX_PARTS_LIMIT},
            )
        if has_controls(value.translate(dict.fromkeys(map(ord, _TEXT_CONTROLS_ALLOWED)))):
            raise PydanticCustomError(
                "text_chars",
                "the message text must not contain control characters other than line breaks and tabs",
            )
        errors = template_errors(value)
        if errors:
            raise PydanticCustomError("template", "{errors}", {"errors": "; ".join(errors)})
        return value


class Rule(_Model):
    name: QuotedStr = Field(min_length=1, max_length=RULE_NAME_MAX_CHARS)
    enabled: StrictBool = True
    when: When
    then: Then

    _compiled: Any = PrivateAttr(default=None)  # cache owned by pbx_sms.core.matching

    @field_validator("then")
    @classmethod
    def _text_fits(cls, then: Then, info: ValidationInfo) -> Then:
        # After ``name`` (declared first): {rule} is the name, so it counts with its own characters.
        name = info.data.get("name")
        if name is not None:
            size = text_size(then.text, name, then.transliterate)
            if size.too_long:
                raise PydanticCustomError(TEXT_TOO_LONG, too_long_message(size))
        return then

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
        if has_controls(value):
            raise PydanticCustomError(
                "name_chars", "the rule name must be one line without tabs or other control characters"
            )
        return value


class RuleFile(_Model):
    account: QuotedStr = Field("default", min_length=1, max_length=ACCOUNT_NAME_MAX_CHARS)
    rules: list[Rule]

    @field_validator("account")
    @classmethod
    def _clean_account(cls, value: str) -> str:
        if has_controls(value):
            raise PydanticCustomError("name_chars", "the account name must not contain control characters")
        return value

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


def error_location(error: Any) -> tuple[Any, ...]:
    """Where a validation error of a rule is: its ``loc``, except that a text too long for its rule's name
    is reported on ``then`` but is about ``then.text``."""
    loc = tuple(error["loc"])
    return (*loc, "text") if error["type"] == TEXT_TOO_LONG and loc[-1:] == ("then",) else loc


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
