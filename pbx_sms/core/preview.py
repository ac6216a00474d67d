"""What a rule's SMS text looks like while it is written (pure): rendered with sample call values, its
encoding, parts, units used and left in the last part, the characters that force UCS-2, and what
transliteration would make of it.

``characters`` and ``left_in_last_part`` count units as the SMS does (pbx_sms.core.encoding): septets for
GSM-7, where an extension character (€ [ ] ...) takes 2; UTF-16 units for UCS-2, where an emoji takes 2.
Positions are 0-based indices of code points in the rendered text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pbx_sms.core.encoding import GSM7_CHARS, Encoding, analyse, transliterate, units_left_in_last_part
from pbx_sms.core.template import render, template_errors
from pbx_sms.core.text_size import MAX_PARTS_LIMIT

TEXT_FIELD = "text"


@dataclass(frozen=True, slots=True)
class Ucs2Character:
    """A character GSM-7 lacks, and where it is in the text: one of them makes the whole SMS UCS-2."""

    character: str
    positions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TextMeasure:
    text: str
    encoding: Encoding
    parts: int
    characters: int
    left_in_last_part: int
    ucs2_characters: tuple[Ucs2Character, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "encoding": self.encoding,
            "parts": self.parts,
            "characters": self.characters,
            "left_in_last_part": self.left_in_last_part,
            "ucs2_characters": [
                {"character": item.character, "positions": list(item.positions)} for item in self.ucs2_characters
            ],
        }


@dataclass(frozen=True, slots=True)
class PreviewProblem:
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Preview:
    """``sent``: the text as the SMS would go (transliterated when the rule says so); ``transliterated``:
    the text with transliteration on, whatever the rule says."""

    sent: TextMeasure
    transliterated: TextMeasure
    problems: tuple[PreviewProblem, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            **self.sent.as_json(),
            "transliterated": self.transliterated.as_json(),
            "problems": [{"field": problem.field, "message": problem.message} for problem in self.problems],
        }


def ucs2_characters(text: str) -> tuple[Ucs2Character, ...]:
    """Each distinct character of ``text`` outside GSM-7, in order of first appearance, with its positions."""
    positions: dict[str, list[int]] = {}
    for index, char in enumerate(text):
        if char not in GSM7_CHARS:
            positions.setdefault(char, []).append(index)
    return tuple(Ucs2Character(char, tuple(found)) for char, found in positions.items())


def measure(text: str) -> TextMeasure:
    shape = analyse(text)
    return TextMeasure(
        text=text,
        encoding=shape.encoding,
        parts=shape.parts,
        characters=shape.units,
        left_in_last_part=units_left_in_last_part(text),
        ucs2_characters=ucs2_characters(text),
    )


def preview(template: str, values: Mapping[str, str], *, transliterated: bool) -> Preview:
    """The preview of ``template`` rendered with ``values`` (one per placeholder). A template with errors
    is measured as written, each error a problem: the counter keeps counting while the text is fixed."""
    errors = template_errors(template)
    problems = [PreviewProblem(TEXT_FIELD, error) for error in errors]
    rendered = template if errors else render(template, values)
    as_written = measure(rendered)
    with_transliteration = measure(transliterate(rendered))
    sent = with_transliteration if transliterated else as_written
    if sent.parts > MAX_PARTS_LIMIT:
        problems.append(
            PreviewProblem(
                TEXT_FIELD, f"the text takes {sent.parts} parts; an SMS has at most {MAX_PARTS_LIMIT}: shorten it"
            )
        )
    return Preview(sent, with_transliteration, tuple(problems))
