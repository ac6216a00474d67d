"""How long a rule's SMS can get (pure): the most parts its text takes for any call.

A text is checked when the rule is saved. ``{rule}`` is the rule's own name, known then; every other
placeholder is filled with as many characters as it can ever hold (``PLACEHOLDER_MAX_CHARS``), so the
part count found is the largest any call can produce. A concatenated SMS has at most 255 parts (a one-byte
counter in its header): a text that can need more is refused. More than ``WARN_PARTS`` parts is allowed
but warned about where rules are shown, since each part is billed as one SMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pbx_sms.core.encoding import GSM7_PART_SEPTETS, Encoding, analyse, transliterate
from pbx_sms.core.template import PLACEHOLDER_MAX_CHARS, render

MAX_PARTS_LIMIT: Final = 255
WARN_PARTS: Final = 6
# No text longer than this fits in 255 parts whatever its characters (a GSM-7 part carries at most 153).
MAX_TEXT_CHARS: Final = MAX_PARTS_LIMIT * GSM7_PART_SEPTETS
# A GSM-7 basic character: one septet and one UTF-16 unit, so it never changes the encoding of a text.
_FILLER: Final = "0"


@dataclass(frozen=True, slots=True)
class TextSize:
    """The largest SMS a rule's text makes: ``exact`` when its placeholders cannot change it (none, or
    only ``{rule}``)."""

    encoding: Encoding
    max_parts: int
    exact: bool

    @property
    def too_long(self) -> bool:
        return self.max_parts > MAX_PARTS_LIMIT

    def warning(self) -> str | None:
        """A sentence for the admin when the text needs more than ``WARN_PARTS`` parts, else None."""
        if self.max_parts <= WARN_PARTS:
            return None
        up_to = "" if self.exact else "up to "
        return (
            f"the text takes {up_to}{self.max_parts} parts ({self.encoding}), more than {WARN_PARTS}: "
            "each part is billed as one SMS"
        )


def text_size(text: str, rule_name: str, transliterated: bool) -> TextSize:
    """The largest SMS ``text`` makes (a template that passed ``template_errors``)."""
    longest = render(
        text, {name: _FILLER * chars for name, chars in PLACEHOLDER_MAX_CHARS.items()} | {"rule": rule_name}
    )
    # The same text with every varying placeholder empty: equal when none of them is used.
    exact = longest == render(text, dict.fromkeys(PLACEHOLDER_MAX_CHARS, "") | {"rule": rule_name})
    shape = analyse(transliterate(longest) if transliterated else longest)
    return TextSize(shape.encoding, shape.parts, exact)


def too_long_message(size: TextSize) -> str:
    up_to = "" if size.exact else "up to "
    return (
        f"the text takes {up_to}{size.max_parts} parts ({size.encoding}); an SMS has at most {MAX_PARTS_LIMIT} "
        "parts: shorten it"
    )
