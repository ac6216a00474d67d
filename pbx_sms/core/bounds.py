"""The largest numbers and longest texts that every supported database stores (pure constants).

An integer column is a PostgreSQL ``integer`` (32-bit signed) and an id a ``bigint``; SQLite stores 64-bit
integers. A value past these bounds is refused where it enters (rule validation, storage, the outbox), with
a message naming the bound, instead of failing inside the database driver.
"""

from __future__ import annotations

from typing import Final

# Column lengths of names (accounts.name, rules.name, senders.sender): PostgreSQL refuses longer values.
ACCOUNT_NAME_MAX_CHARS: Final = 100
RULE_NAME_MAX_CHARS: Final = 200
SENDER_MAX_CHARS: Final = 16
# PostgreSQL ``integer``: counts and seconds (daily_cap, delay_s, min_interval_s, talk_s, max_parts).
INTEGER_MAX: Final = 2**31 - 1
# PostgreSQL ``bigint`` and SQLite INTEGER: row ids.
BIGINT_MAX: Final = 2**63 - 1


def fits_integer(value: int) -> bool:
    """True when ``value`` fits an integer column (0 and negatives included)."""
    return -INTEGER_MAX - 1 <= value <= INTEGER_MAX


def fits_bigint(value: int) -> bool:
    return -BIGINT_MAX - 1 <= value <= BIGINT_MAX
