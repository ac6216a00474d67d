"""The AGI hangup hook's I/O: read the AGI session, record the call, always exit 0, quickly.

Asterisk runs the script from a hangup handler on the caller's channel; the channel is not
destroyed until the script ends. So the hook:
- reads the AGI environment and maps it to a call exactly as the daemon's FastAGI server does (pure,
  ``pbx_sms.hangup.request``), and writes one row to the call log with ``record_call`` — the daemon
  matches rules and queues SMS later;
- imports the database stack only once it has a call to write;
- bounds every wait: database connect and statement timeouts, and a hard deadline for the whole
  script after which it exits 0 whatever it is doing;
- never fails the call: every problem (pbx-sms not configured, database down, schema missing, bad
  arguments) is logged to syslog and stderr and to the Asterisk log (AGI VERBOSE), and the exit
  status is 0.
The hook's view of a call (evidence ``hook`` or ``hint``) is recorded next to the AMI listener's when
both report it; the better evidence becomes the call's truth, whichever came first (pbx_sms.core.views),
and the daemon waits a moment for the listener's view before acting on the hook's.
This is the fallback for a PBX where the daemon does not run: with the daemon there, the
dialplan's FastAGI hook (pbx_sms.fastagi) costs no process per call.
Installing: README, "Installing into Asterisk" (and "The AGI hangup hook").
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

    from pbx_sms.config import Settings
    from pbx_sms.core.call import CompletedCall

log = logging.getLogger("pbx_sms.agi")

SYSLOG_IDENT = "pbx-sms-agi"
# Settings for the hook when Asterisk's environment names none (PBX_SMS_CONFIG): only what the
# hook needs (database_url, country, internal_max_digits), readable by the asterisk user.
DEFAULT_CONFIG_PATH = Path("/etc/pbx-sms/agi.toml")
# The whole script, from start to exit; the hung-up channel waits for it.
DEADLINE_S = 5.0
DB_CONNECT_TIMEOUT_S = 2
DB_STATEMENT_TIMEOUT_MS = 2000
# Files the hook creates next to a SQLite database (-wal, -shm) must stay writable by the daemon's group.
SQLITE_UMASK = 0o007
VERBOSE_OK_LEVEL = 3
VERBOSE_PROBLEM_LEVEL = 1


class HookProblem(Exception):
    """Something that stops the hook from recording a call; the message is the log line."""


class _SessionEnded(HookProblem):
    """Asterisk closed the session: nobody to send the outcome to."""


def main(
    argv: Sequence[str] | None = None,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run one AGI session. Always returns 0 (Asterisk must never see the hook fail)."""
    started_s = time.monotonic()
    # Asterisk sends SIGHUP when the channel hangs up; the default action would kill the write.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _deadline_passed)
    signal.setitimer(signal.ITIMER_REAL, DEADLINE_S)
    env = os.environ if environ is None else environ
    _setup_logging(env)
    agi_in = stdin or sys.stdin.buffer
    agi_out = stdout or sys.stdout.buffer
    session_open = True
    message, level = "nothing done", logging.ERROR
    try:
        message, level = _run(_read_environment(agi_in), env)
    except _SessionEnded as exc:
        message, level, session_open = str(exc), logging.WARNING, False
    except HookProblem as exc:
        message, level = str(exc), logging.WARNING
    except Exception as exc:  # the hook must never fail the call, whatever went wrong
        log.debug("hook failed", exc_info=True)
        message, level = f"unexpected error, call not recorded: {type(exc).__name__}: {exc}", logging.ERROR
    elapsed_ms = (time.monotonic() - started_s) * 1000
    # One line: an AGI command ends at a newline, and one syslog record per call reads best.
    line = " ".join(f"{message} ({elapsed_ms:.0f} ms)".split())
    log.log(level, "%s", line)
    if session_open:
        _verbose(agi_in, agi_out, line, VERBOSE_OK_LEVEL if level <= logging.INFO else VERBOSE_PROBLEM_LEVEL)
    signal.setitimer(signal.ITIMER_REAL, 0)
    return 0


def _read_environment(agi_in: BinaryIO) -> dict[str, str]:
    """The AGI environment, read as the FastAGI server reads it (same bounds, same refusals)."""
    from pbx_sms.hangup.request import MAX_LINE_BYTES, AgiRequestError, EnvironmentReader

    reader = EnvironmentReader()
    try:
        # One byte over the bound: a longer line is refused, not read on without end.
        while not reader.feed(agi_in.readline(MAX_LINE_BYTES + 1)):
            pass
        return reader.environment()
    except AgiRequestError as exc:
        if reader.ended:
            raise _SessionEnded(f"call not recorded: {exc}") from None
        raise HookProblem(f"call not recorded: {exc}") from None


def _run(agi_env: Mapping[str, str], env: Mapping[str, str]) -> tuple[str, int]:
    from pbx_sms.hangup.request import outcome_of_request

    settings = _load_settings(env)
    outcome = outcome_of_request(agi_env, settings.country, settings.tracking.internal_max_digits)
    linkedid = agi_env.get("agi_arg_1", "")[:64] or "?"
    for note in outcome.notes:
        log.info("%s: %s", linkedid, note)
    if outcome.call is None:
        raise HookProblem(f"call not recorded: {outcome.reason}")
    call = outcome.call
    summary = f"{call.direction} {call.number or '-'} {call.other_party}, {call.status}, talk {call.talk_s} s"
    if _record(settings.database_url, settings.pbx_name, call):
        return f"call {call.call_id} recorded: {summary}", logging.INFO
    # The daemon's FastAGI hook stores a second view beside AMI's; this script's role only adds calls.
    return f"call {call.call_id} already recorded (AMI reported it first; its view kept): {summary}", logging.INFO


def _load_settings(env: Mapping[str, str]) -> Settings:
    from pbx_sms.config import CONFIG_ENV, ConfigError, load_settings

    config_path: str | Path | None = env.get(CONFIG_ENV)
    if not config_path and DEFAULT_CONFIG_PATH.is_file():
        config_path = DEFAULT_CONFIG_PATH
    try:
        return load_settings(config_path, env)
    except ConfigError as exc:
        raise HookProblem(f"call not recorded: {exc}") from None


def _record(database_url: str, pbx: str, call: CompletedCall) -> bool:
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from pbx_sms.db.url import DatabaseUrlError, normalise_database_url, safe_url
    from pbx_sms.intake.calls import record_call

    try:
        url = normalise_database_url(database_url)
    except DatabaseUrlError as exc:
        raise HookProblem(f"call {call.call_id} not recorded: {exc}") from None
    where = safe_url(url)
    engine = _bounded_engine(url)
    try:
        # Only adds: the hook's role may not change a call AMI recorded first (deploy/pbx-sms-agi-role.sql).
        return record_call(engine, call, pbx, "agi", datetime.now(UTC), first_report_only=True)
    except DBAPIError as exc:
        if _is_missing_table(exc):
            raise HookProblem(
                f"call {call.call_id} not recorded: database {where} has no pbx-sms schema "
                "(run `pbx-sms db upgrade` as the pbx-sms user)"
            ) from None
        raise HookProblem(
            f"call {call.call_id} not recorded: database {where} unavailable: {_first_line(exc)}"
        ) from None
    except SQLAlchemyError as exc:
        raise HookProblem(f"call {call.call_id} not recorded: database {where}: {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _bounded_engine(url: URL) -> Engine:
    """An engine that gives up within the hook's deadline instead of the daemon's patient defaults."""
    from sqlalchemy import event

    from pbx_sms.db.engine import make_engine
    from pbx_sms.db.url import is_sqlite

    if is_sqlite(url):
        path = url.database or ""
        # Connecting would create an empty database file (owned by asterisk) where the daemon's should be.
        if path in ("", ":memory:") or not Path(path).is_file():
            raise HookProblem(
                f"no SQLite database at {path!r} (database_url in {DEFAULT_CONFIG_PATH} or the file PBX_SMS_CONFIG "
                "names; has `pbx-sms db upgrade` run yet?)"
            )
        os.umask(SQLITE_UMASK)
        engine = make_engine(url)

        @event.listens_for(engine, "connect")
        def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
            # Registered after make_engine's own hook, so this value wins.
            dbapi_connection.execute(f"PRAGMA busy_timeout={DB_STATEMENT_TIMEOUT_MS}")

        return engine
    options = url.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    limits = f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS} -c lock_timeout={DB_STATEMENT_TIMEOUT_MS}"
    bounded = url.update_query_dict(
        {"connect_timeout": str(DB_CONNECT_TIMEOUT_S), "options": f"{options} {limits}".strip()}
    )
    return make_engine(bounded)


def _is_missing_table(exc: Exception) -> bool:
    original = getattr(exc, "orig", None)
    if type(original).__name__ == "UndefinedTable":
        return True
    return "no such table" in str(original or exc)


def _first_line(exc: Exception) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


def _verbose(agi_in: BinaryIO, agi_out: BinaryIO, line: str, level: int) -> None:
    """The outcome in Asterisk's own log; a dead channel may refuse it, which changes nothing."""
    from pbx_sms.hangup.request import MAX_LINE_BYTES, verbose_command

    try:
        agi_out.write(verbose_command(f"pbx-sms: {line}", level).encode())
        agi_out.flush()
        agi_in.readline(MAX_LINE_BYTES)
    except Exception:
        log.debug("AGI VERBOSE failed", exc_info=True)


def _deadline_passed(_signum: int, _frame: FrameType | None) -> None:
    # No logging module here: the interrupted code may hold its lock, and waiting on it would hold
    # the channel for good. Plain writes, then out.
    message = f"gave up after {DEADLINE_S:.0f} s (database too slow?): call not recorded"
    with contextlib.suppress(OSError):
        os.write(2, f"{SYSLOG_IDENT}: ERROR {message}\n".encode())
    with contextlib.suppress(Exception):
        import syslog

        syslog.openlog(SYSLOG_IDENT, 0, syslog.LOG_DAEMON)
        syslog.syslog(syslog.LOG_ERR, message)
    os._exit(0)


def _setup_logging(env: Mapping[str, str]) -> None:
    if log.handlers:
        return
    log.setLevel(env.get("PBX_SMS_LOG_LEVEL", "INFO").upper())
    log.propagate = False
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(f"{SYSLOG_IDENT}: %(levelname)s %(message)s"))
    log.addHandler(stderr)
    if Path("/dev/log").exists():
        from logging.handlers import SysLogHandler

        try:
            syslog = SysLogHandler(address="/dev/log", facility=SysLogHandler.LOG_DAEMON)
        except OSError:
            return
        syslog.setFormatter(logging.Formatter(f"{SYSLOG_IDENT}[{os.getpid()}]: %(message)s"))
        log.addHandler(syslog)
