"""JSON log lines: the standard keys, and the facts a call site passes with ``extra=`` as keys of their own."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from pbx_sms.logs import TEXT_FORMAT, JsonFormatter, extra_fields


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    return logging.getLogger("pbx_sms.test").makeRecord(
        "pbx_sms.test", logging.WARNING, __file__, 1, message, args, None, extra=extra
    )


def test_entry_has_the_standard_keys_and_the_formatted_message() -> None:
    entry = json.loads(JsonFormatter().format(record("SMS %d to %s sent", 7, "+48601234567")))
    assert entry["level"] == "warning" and entry["logger"] == "pbx_sms.test"
    assert entry["message"] == "SMS 7 to +48601234567 sent"
    assert datetime.fromisoformat(entry["ts"]).tzinfo is not None
    assert set(entry) == {"ts", "level", "logger", "message"}


def test_extra_fields_are_keys_of_the_entry() -> None:
    due = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    entry = json.loads(JsonFormatter().format(record("held", sms_id=7, columns=["statuses"], due_at=due)))
    assert (entry["sms_id"], entry["columns"], entry["due_at"]) == (7, ["statuses"], due.isoformat())


def test_an_extra_field_never_replaces_a_standard_key() -> None:
    entry = json.loads(JsonFormatter().format(record("sent", level="high")))
    assert (entry["level"], entry["extra_level"]) == ("warning", "high")


def test_only_what_extra_gave_counts_as_a_field() -> None:
    assert extra_fields(record("plain %s", "text")) == {}
    assert extra_fields(record("with", account="acme")) == {"account": "acme"}


def test_text_lines_leave_the_fields_out() -> None:
    line = logging.Formatter(TEXT_FORMAT).format(record("rule %r skipped", "Missed", rule="Missed"))
    assert line.endswith("WARNING pbx_sms.test: rule 'Missed' skipped")
