"""The rule form's counter as the server renders it: the same figures the API's preview gives the live
counter (manage.rule_views.preview_text), laid out for the template.

The page shows it for the text as saved or posted, so the counter is right with scripting off; the
script (static/rule_counter.js) only replaces these figures with the API's answer while the text is typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbx_sms.core.preview import Preview, TextMeasure
from pbx_sms.manage.rule_views import preview_text
from pbx_sms.web.pages.messages import Translate, translated_problem


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of the text, ``forces_ucs2`` when its characters are outside GSM-7 (shown marked)."""

    text: str
    forces_ucs2: bool


def segments(measure: TextMeasure) -> list[Segment]:
    """The text cut where it goes in and out of the characters that make it UCS-2."""
    marked = {position for item in measure.ucs2_characters for position in item.positions}
    runs: list[Segment] = []
    for index, char in enumerate(measure.text):
        forces = index in marked
        if runs and runs[-1].forces_ucs2 == forces:
            runs[-1] = Segment(runs[-1].text + char, forces)
        else:
            runs.append(Segment(char, forces))
    return runs


@dataclass(frozen=True, slots=True)
class CounterView:
    preview: Preview
    segments: list[Segment]
    problems: list[str]  # the preview's problems in the reader's language

    @property
    def ucs2_characters(self) -> str:
        return " ".join(item.character for item in self.preview.sent.ucs2_characters)


def counter_view(text: str, *, transliterated: bool, translate: Translate) -> CounterView:
    found = preview_text(text, transliterated=transliterated)
    problems = [translated_problem(problem.message, translate) for problem in found.problems]
    return CounterView(found, segments(found.sent), problems)
