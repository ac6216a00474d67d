"""Log set-up for the daemon and long-running commands: readable lines, or JSON for log shippers.

In JSON, the fields a call site passes with ``extra=`` (``log.info("...", extra={"sms_id": 7})``)
are keys of the entry next to the message, so tools and tests read facts, not wording.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that are chatty at INFO and say nothing an operator needs.
_QUIET_LOGGERS = ("aiohttp", "panoramisk", "alembic", "aiosmtplib")
# What every LogRecord has: anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {"message"}
_ENTRY_KEYS = ("ts", "level", "logger", "message", "exception")


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields given to the log call with ``extra=``."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


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
        return json.dumps(entry, ensure_ascii=False, default=_plain)


def _plain(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def setup_logging(log_format: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
