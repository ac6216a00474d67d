"""Log set-up for the daemon and long-running commands: readable lines, or JSON for log shippers.

In JSON, the fields a call site passes with ``extra=`` (``log.info("...", extra={"sms_id": 7})``)
are keys of the entry next to the message, so tools and tests read facts, not wording.

Messages quote what callers and servers chose (caller IDs, error texts): in either format a control
character in them is written as an escape, so a line break cannot forge a log line and ESC cannot reach
the terminal of whoever reads the log. A traceback keeps its own line breaks.

Every line leaves through ``RedactingFormatter``: the secrets registered with ``redact_in_logs``
(the gateway's, when it is created) never reach a log, whatever logger or library wrote the line, and
neither does the row a database error quotes in its DETAIL.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from pbx_sms.core.redaction import Redactor, hide_database_details
from pbx_sms.core.text_safety import escape_controls, escape_json_controls

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that are chatty at INFO and say nothing an operator needs.
_QUIET_LOGGERS = ("aiohttp", "panoramisk", "alembic", "aiosmtplib")
# What every LogRecord has: anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {"message"}
_ENTRY_KEYS = ("ts", "level", "logger", "message", "exception")


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields given to the log call with ``extra=``."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT`` lines, one per entry whatever the message holds."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return escape_controls(super().formatException(ei), keep="\n")

    def formatStack(self, stack_info: str) -> str:
        return escape_controls(super().formatStack(stack_info), keep="\n")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for key, value in extra_fields(record).items():
            entry.setdefault(key if key not in _ENTRY_KEYS else f"extra_{key}", value)
        # json escapes C0 controls itself; DEL, C1 and U+2028/2029 it leaves raw.
        return escape_json_controls(json.dumps(entry, ensure_ascii=False, default=_plain))


def _plain(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


_log_redactor = Redactor()


def redact_in_logs(redactor: Redactor) -> None:
    """From now on, these secrets are redacted from every line the formatters here write."""
    global _log_redactor
    _log_redactor = _log_redactor | redactor


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner``, then redacts the whole line (message, traceback, ``extra`` fields): the
    registered secrets and any database error's row values."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return hide_database_details(_log_redactor.redact(self.inner.format(record)))


def log_handler(stream: Any, log_format: str = "text") -> logging.Handler:
    """The daemon's handler on ``stream``: text or JSON lines, secrets redacted."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(JsonFormatter() if log_format == "json" else TextFormatter()))
    return handler


def setup_logging(log_format: str = "text", level: str = "INFO") -> None:
    handler = log_handler(sys.stderr, log_format)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
