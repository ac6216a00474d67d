"""Many distinct calls from one real recording (a missed inbound call, tests/fixtures/in_noanswer)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from ami_server import load_recording_events
from paths import FIXTURES

from e2e.recording import headers

TEMPLATE_COMPANY_NUMBER = "48221234569"
TEMPLATE_CALLER = b"604567890"
_ID = re.compile(rb"1795574778\.(1[6-9])(?!\d)")


@cache
def template() -> tuple[bytes, ...]:
    return tuple(load_recording_events(FIXTURES / "in_noanswer.callcdr.ami"))


def copy_of_call(number: int, company_number: str = TEMPLATE_COMPANY_NUMBER) -> list[bytes]:
    """The template call as another call: its own Linkedid/Uniqueids, channels and caller number
    (``+4860…`` with ``number`` in it), to ``company_number`` (digits, as Asterisk has them)."""
    epoch = str(1_800_000_000 + number).encode()
    channels = {b"-00000008": f"-{2 * number:08x}".encode(), b"-00000009": f"-{2 * number + 1:08x}".encode()}
    copied = []
    for block in template():
        block = _ID.sub(epoch + rb".\1", block).replace(TEMPLATE_CALLER, f"6{number:08d}".encode())
        block = block.replace(TEMPLATE_COMPANY_NUMBER.encode(), company_number.encode())
        for old, new in channels.items():
            block = block.replace(old, new)
        copied.append(block)
    return copied


def linkedid(blocks: Sequence[bytes]) -> str:
    return next(headers(block)["Linkedid"] for block in blocks if "Linkedid" in headers(block))
