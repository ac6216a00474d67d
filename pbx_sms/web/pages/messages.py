"""Problems written in English by core/ and storage/ (rule checks, account settings, numbers, the SMS log's
filters), shown to a panel reader in their language.

Core and storage stay English (the CLI and the API speak it, logs are read by operators); the panel
matches each message against one table of patterns, here, and shows the catalog's translation with the
message's own values (names, numbers, what was typed) kept as they were. A message no pattern knows is
shown in English, unchanged: a new check is never hidden, only untranslated until it gets a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

Translate = Callable[[str], str]


def N_(msgid: str) -> str:
    """Marks a msgid for Babel's extraction; translated later, when the language is known."""
    return msgid


@dataclass(frozen=True, slots=True)
class Pattern:
    """An English message (``regex`` matches it whole) and its msgid, whose ``%(name)s`` are the groups."""

    regex: re.Pattern[str]
    msgid: str


# Groups named ``problem`` hold a message of their own (translated in turn); ``value`` groups may be one of
# DESCRIBED (rulefile's words for what YAML gave). Other groups are copied unchanged.
_VALUE = r"(?P<value>.*)"
_TABLE: Final[tuple[tuple[str, str], ...]] = (
    # core/rulefile.py: the shape of a rule file
    (r"missing required key", N_("missing required key")),
    (
        r"unknown key \(did you mean (?P<close>.+)\?\); allowed here: (?P<allowed>.+)",
        N_("unknown key (did you mean %(close)s?); allowed here: %(allowed)s"),
    ),
    (r"unknown key; allowed here: (?P<allowed>.+)", N_("unknown key; allowed here: %(allowed)s")),
    (r"expected a mapping \(key: value\), got " + _VALUE, N_("expected a mapping (key: value), got %(value)s")),
    (r"must not be empty: list at least one value", N_("must not be empty: list at least one value")),
    (r"expected a date written YYYY-MM-DD, got " + _VALUE, N_("expected a date written YYYY-MM-DD, got %(value)s")),
    (r"expected a list, got " + _VALUE, N_("expected a list, got %(value)s")),
    (r"duplicate key \(already given on line (?P<line>\d+)\)", N_("duplicate key (already given on line %(line)s)")),
    (
        r"duplicate rule name (?P<name>.+) \(also (?P<first>rules\[\d+\])\); names must be unique in a file",
        N_("duplicate rule name %(name)s (also %(first)s); names must be unique in a file"),
    ),
    (
        r"rule names must be unique within a file: (?P<names>.+)",
        N_("rule names must be unique within a file: %(names)s"),
    ),
    (r"warning: (?P<problem>.+)", N_("warning: %(problem)s")),
    # core/rule_fields.py and core/rules.py: the values of a rule
    (
        r"expected a string, got (?P<value>true|false): YAML reads unquoted yes/no/on/off/true/false as a boolean"
        r" - put the value in quotes",
        N_(
            "expected a string, got %(value)s: YAML reads unquoted yes/no/on/off/true/false as a boolean"
            " - put the value in quotes"
        ),
    ),
    (
        r"expected a string, got the number (?P<value>\S+): YAML reads unquoted digits \(also \+48\.\.\.\) as a"
        r' number - put the value in quotes, e\.g\. "\+48600100100"',
        N_(
            "expected a string, got the number %(value)s: YAML reads unquoted digits (also +48...) as a number"
            ' - put the value in quotes, e.g. "+48600100100"'
        ),
    ),
    (r"must not contain a NUL character \(\\x00\)", N_("must not contain a NUL character (\\x00)")),
    (
        r"expected a phone number in E\.164 form \(\+ country code and number, no spaces\), got " + _VALUE,
        N_("expected a phone number in E.164 form (+ country code and number, no spaces), got %(value)s"),
    ),
    (r"a sender ID must not start or end with a space", N_("a sender ID must not start or end with a space")),
    (
        r"expected a sender ID: alphanumeric \(1-11 characters of A-Z a-z 0-9 space - _ \. with at least one"
        r" letter\) or numeric \(up to 15 digits, a phone number in international format\), got " + _VALUE,
        N_(
            "expected a sender ID: alphanumeric (1-11 characters of A-Z a-z 0-9 space - _ . with at least one"
            " letter) or numeric (up to 15 digits, a phone number in international format), got %(value)s"
        ),
    ),
    (
        r'expected "other_party" or a phone number in E\.164 form \(e\.g\. "\+48600100100"\), got ' + _VALUE,
        N_('expected "other_party" or a phone number in E.164 form (e.g. "+48600100100"), got %(value)s'),
    ),
    (
        r'expected "HH:MM" in quotes, got the number (?P<value>-?\d+): YAML reads an unquoted time like 18:00'
        r' as a base-60 number \(18\*60 = 1080\); write (?P<clock>"\d\d:\d\d")',
        N_(
            'expected "HH:MM" in quotes, got the number %(value)s: YAML reads an unquoted time like 18:00'
            " as a base-60 number (18*60 = 1080); write %(clock)s"
        ),
    ),
    (
        r'expected "HH:MM" in quotes, got the number (?P<value>-?\d+): YAML reads an unquoted time like 18:00'
        r" as a base-60 number \(18\*60 = 1080\)",
        N_(
            'expected "HH:MM" in quotes, got the number %(value)s: YAML reads an unquoted time like 18:00'
            " as a base-60 number (18*60 = 1080)"
        ),
    ),
    (r'expected "HH:MM", got ' + _VALUE, N_('expected "HH:MM", got %(value)s')),
    (
        r'expected "HH:MM" \(24-hour clock, e\.g\. "08:30"\), got ' + _VALUE,
        N_('expected "HH:MM" (24-hour clock, e.g. "08:30"), got %(value)s'),
    ),
    (
        r"expected a time of day (?P<limit>.+), got " + _VALUE,
        N_("expected a time of day %(limit)s, got %(value)s"),
    ),
    (r"(?P<what>.+) (?P<value>.+) is listed twice", N_("%(what)s %(value)s is listed twice")),
    (r"min \((?P<min>\d+)\) must not exceed max \((?P<max>\d+)\)", N_("min (%(min)s) must not exceed max (%(max)s)")),
    (
        r"from \((?P<start>[\d-]+)\) must not be after to \((?P<end>[\d-]+)\)",
        N_("from (%(start)s) must not be after to (%(end)s)"),
    ),
    (r"the message text must not be empty", N_("the message text must not be empty")),
    (
        r"the message text must not contain control characters other than line breaks and tabs",
        N_("the message text must not contain control characters other than line breaks and tabs"),
    ),
    (
        r"the text has (?P<chars>\d+) characters; at most (?P<limit>\d+) fit in the (?P<parts>\d+) parts an SMS can"
        r" have",
        N_("the text has %(chars)s characters; at most %(limit)s fit in the %(parts)s parts an SMS can have"),
    ),
    (
        r"the text takes up to (?P<parts>\d+) parts \((?P<encoding>[\w-]+)\); an SMS has at most (?P<limit>\d+)"
        r" parts: shorten it",
        N_("the text takes up to %(parts)s parts (%(encoding)s); an SMS has at most %(limit)s parts: shorten it"),
    ),
    (
        r"the text takes (?P<parts>\d+) parts \((?P<encoding>[\w-]+)\); an SMS has at most (?P<limit>\d+) parts:"
        r" shorten it",
        N_("the text takes %(parts)s parts (%(encoding)s); an SMS has at most %(limit)s parts: shorten it"),
    ),
    (
        r"the text takes (?P<parts>\d+) parts \((?P<encoding>[\w-]+)\), more than (?P<limit>\d+): each part is"
        r" billed as one SMS",
        N_("the text takes %(parts)s parts (%(encoding)s), more than %(limit)s: each part is billed as one SMS"),
    ),
    (r"the rule name must not be empty", N_("the rule name must not be empty")),
    (
        r"the rule name must be one line without tabs or other control characters",
        N_("the rule name must be one line without tabs or other control characters"),
    ),
    (
        r"the account name must not contain control characters",
        N_("the account name must not contain control characters"),
    ),
    # core/template.py: placeholders of the text (each behind its "line L, column C: ")
    (
        r"line (?P<line>\d+), column (?P<column>\d+): (?P<problem>.+)",
        N_("line %(line)s, column %(column)s: %(problem)s"),
    ),
    (r"column (?P<column>\d+): (?P<problem>.+)", N_("column %(column)s: %(problem)s")),
    (
        r"unknown placeholder (?P<name>\{[^}]*\}) in (?P<field>\{[^}]*\}); allowed: (?P<allowed>[^;]+)",
        N_("unknown placeholder %(name)s in %(field)s; allowed: %(allowed)s"),
    ),
    (
        r"unknown placeholder (?P<name>\{[^}]*\}); allowed: (?P<allowed>[^;]+); did you mean (?P<close>\{[^}]*\})\?",
        N_("unknown placeholder %(name)s; allowed: %(allowed)s; did you mean %(close)s?"),
    ),
    (
        r"unknown placeholder (?P<name>\{[^}]*\}); allowed: (?P<allowed>[^;]+); no spaces inside the braces:"
        r" write (?P<plain>\{[^}]*\})",
        N_("unknown placeholder %(name)s; allowed: %(allowed)s; no spaces inside the braces: write %(plain)s"),
    ),
    (
        r"unknown placeholder (?P<name>\{[^}]*\}); allowed: (?P<allowed>[^;]+)",
        N_("unknown placeholder %(name)s; allowed: %(allowed)s"),
    ),
    (
        r"empty placeholder \{\}; put a name inside \((?P<allowed>[^)]+)\) or write \{\{\}\} for literal braces",
        N_("empty placeholder {}; put a name inside (%(allowed)s) or write {{}} for literal braces"),
    ),
    (
        r"single '\}' without an opening '\{'; write \}\} for a literal '\}'",
        N_("single '}' without an opening '{'; write }} for a literal '}'"),
    ),
    (r"'\{' is never closed; write \{\{ for a literal '\{'", N_("'{' is never closed; write {{ for a literal '{'")),
    # storage/rule_store.py: the account's own senders and numbers
    (
        r"sender (?P<sender>'.*') is not a sender of account (?P<account>'.*') \(add it: (?P<command>pbx-sms senders"
        r" add .+)\)",
        N_("sender %(sender)s is not a sender of account %(account)s (add it: %(command)s)"),
    ),
    (
        r"number (?P<number>\S+) is not a number of account (?P<account>'.*') \(add it: (?P<command>pbx-sms numbers"
        r" add .+)\)",
        N_("number %(number)s is not a number of account %(account)s (add it: %(command)s)"),
    ),
    (
        r"number (?P<number>\S+) belongs to account (?P<owner>'.*'), not (?P<account>'.*')",
        N_("number %(number)s belongs to account %(owner)s, not %(account)s"),
    ),
    # pydantic's own messages, as rulefile words them ("Input should be" → "expected")
    (
        r"expected (?P<first>'.+') or (?P<last>'[^']*'), got " + _VALUE,
        N_("expected %(first)s or %(last)s, got %(value)s"),
    ),
    (r"expected a valid boolean, got " + _VALUE, N_("expected a valid boolean, got %(value)s")),
    (
        r"expected a valid integer, unable to parse string as an integer, got " + _VALUE,
        N_("expected a valid integer, got %(value)s"),
    ),
    (r"expected a valid integer, got " + _VALUE, N_("expected a valid integer, got %(value)s")),
    (
        r"expected greater than or equal to (?P<limit>-?\d+), got " + _VALUE,
        N_("expected greater than or equal to %(limit)s, got %(value)s"),
    ),
    (
        r"expected less than or equal to (?P<limit>-?\d+), got " + _VALUE,
        N_("expected less than or equal to %(limit)s, got %(value)s"),
    ),
    (
        r"String should have at least (?P<count>\d+) characters?, got " + _VALUE,
        N_("expected at least %(count)s characters, got %(value)s"),
    ),
    # storage/values.py, core/phone.py, core/timezones.py, core/quiet_hours.py: the account's settings
    (
        r"country (?P<value>.+): expected a two-letter ISO country code like PL",
        N_("country %(value)s: expected a two-letter ISO country code like PL"),
    ),
    (
        r"unknown time zone (?P<value>.+) \(expected an IANA name like Europe/Warsaw\)",
        N_("unknown time zone %(value)s (expected an IANA name like Europe/Warsaw)"),
    ),
    (
        r'quiet hours (?P<value>.+): expected "HH:MM-HH:MM" \(24-hour clock, e\.g\. (?P<example>"[\d:-]+")'
        r"; may cross midnight\)",
        N_('quiet hours %(value)s: expected "HH:MM-HH:MM" (24-hour clock, e.g. %(example)s; may cross midnight)'),
    ),
    (
        r"quiet hours (?P<value>.+): start and end are the same; a window needs two different times, e\.g\."
        r' (?P<example>"[\d:-]+")',
        N_("quiet hours %(value)s: start and end are the same; a window needs two different times, e.g. %(example)s"),
    ),
    (r"quiet hours (?P<value>'.*'): (?P<problem>.+)", N_("quiet hours %(value)s: %(problem)s")),
    (
        r"daily cap (?P<value>-?\d+): expected 0 to (?P<limit>\d+) \(or none\)",
        N_("daily cap %(value)s: expected 0 to %(limit)s (or none)"),
    ),
    (r"account name: must not be empty", N_("account name: must not be empty")),
    # storage/numbers.py, storage/values.py, storage/optouts.py: numbers, sender IDs and opt-outs
    (
        r"number (?P<value>.+): not a valid phone number \(read with default country (?P<country>[A-Z]{2})\)",
        N_("number %(value)s: not a valid phone number (read with default country %(country)s)"),
    ),
    (
        r"number (?P<number>\S+) already belongs to account (?P<owner>'.*')",
        N_("number %(number)s already belongs to account %(owner)s"),
    ),
    (
        r"number (?P<number>\S+) is used by enabled rules of account (?P<account>'.*'): (?P<rules>.+)",
        N_("number %(number)s is used by enabled rules of account %(account)s: %(rules)s"),
    ),
    (
        r"sender (?P<sender>'.*') already belongs to account (?P<owner>'.*')",
        N_("sender %(sender)s already belongs to account %(owner)s"),
    ),
    (
        r"sender (?P<sender>'.*') is used by enabled rules of account (?P<account>'.*'): (?P<rules>.+)",
        N_("sender %(sender)s is used by enabled rules of account %(account)s: %(rules)s"),
    ),
    (
        r"sender ID (?P<value>'.*'): no leading or trailing spaces",
        N_("sender ID %(value)s: no leading or trailing spaces"),
    ),
    (
        r"sender ID (?P<value>'.*'): expected 1–11 characters of A–Z a–z 0–9 space - _ \. with at least one letter,"
        r" or a phone number of up to 15 digits in international format",
        N_(
            "sender ID %(value)s: expected 1–11 characters of A–Z a–z 0–9 space - _ . with at least one letter,"
            " or a phone number of up to 15 digits in international format"
        ),
    ),
    (r"(?P<number>\S+) is already opted out \(globally\)", N_("%(number)s is already opted out (globally)")),
    (
        r"(?P<number>\S+) is already opted out \((?P<account>.+)\)",
        N_("%(number)s is already opted out (%(account)s)"),
    ),
    # web/pages/sms_log.py and manage/sms_log.py: the SMS log's filters
    (
        r"from: expected a date like 2026-03-10, got " + _VALUE,
        N_("from: expected a date like 2026-03-10, got %(value)s"),
    ),
    (r"to: expected a date like 2026-03-10, got " + _VALUE, N_("to: expected a date like 2026-03-10, got %(value)s")),
    (r"status: not a status of an SMS: " + _VALUE, N_("status: not a status of an SMS: %(value)s")),
    (
        r"cursor: not a cursor of this log \(pass next_cursor of the previous page unchanged\)",
        N_("cursor: not a cursor of this log (pass next_cursor of the previous page unchanged)"),
    ),
    (r"cursor: not a cursor of this log", N_("cursor: not a cursor of this log")),
)
PATTERNS: Final = tuple(Pattern(re.compile(regex, re.DOTALL), msgid) for regex, msgid in _TABLE)

# rulefile's _describe: what YAML gave, when it is not a value to quote.
DESCRIBED: Final = {
    "nothing (null)": N_("nothing (null)"),
    "a mapping": N_("a mapping"),
    "a list": N_("a list"),
}

# template.py joins several problems of one text with "; " before each "column N: " / "line L, column C: ".
_TEMPLATE_PROBLEMS = re.compile(r"; (?=(?:line \d+, )?column \d+: )")


def translated_problem(message: str, _: Translate) -> str:
    """``message`` (English, from core/ or storage/) in the language of ``_``; unknown: unchanged."""
    parts = _TEMPLATE_PROBLEMS.split(message)
    if len(parts) > 1:
        return "; ".join(translated_problem(part, _) for part in parts)
    for pattern in PATTERNS:
        match = pattern.regex.fullmatch(message)
        if match is not None:
            values = {name: _value(name, text or "", _) for name, text in match.groupdict().items()}
            return _(pattern.msgid) % values
    return message


def _value(name: str, text: str, _: Translate) -> str:
    if name == "problem":
        return translated_problem(text, _)
    if name == "value" and text in DESCRIBED:
        return _(DESCRIBED[text])
    return text
