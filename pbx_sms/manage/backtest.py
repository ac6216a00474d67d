"""Backtest: a rule, saved or not, replayed over the account's call log of the last N days.

`pbx-sms rules backtest` and ``POST /api/v1/accounts/{account}/rules/backtest`` both call ``backtest``.
The calls are the account's rows of the call log (``calls.account``, set when the call was processed),
each row's view its truth (pbx_sms.core.views), read in order and streamed: memory does not grow with
the number of calls. The replay itself is pbx_sms.manage.backtest_replay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select

from pbx_sms.core.rules import Rule
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.engine import Database
from pbx_sms.intake.calls import call_of_row
from pbx_sms.manage.backtest_replay import BacktestReplay, BacktestResult
from pbx_sms.outbox.decisions import AccountLimits
from pbx_sms.storage.accounts import get_account, to_config
from pbx_sms.storage.errors import Refused
from pbx_sms.storage.optouts import list_optouts
from pbx_sms.storage.rule_store import get_stored_rule

MAX_DAYS: Final = 90
DEFAULT_DAYS: Final = 30
# Rows fetched at a time from the database cursor.
_BATCH_ROWS: Final = 1000


class BacktestInvalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def saved_rule(database: Database, account: str, name: str) -> Rule:
    """A saved rule of the account (NotFound if none has the name; Refused if the stored rule is invalid)."""
    with database.session() as session:
        stored = get_stored_rule(session, account, name)
    if stored.rule is None:
        problems = "; ".join(f"{problem.field}: {problem.message}" for problem in stored.problems)
        raise Refused(f"rule {name!r} is stored invalid and cannot be backtested: {problems}")
    return stored.rule


def backtest(
    database: Database, account: str, rule: Rule, *, days: int, now: datetime, internal_max_digits: int
) -> BacktestResult:
    """What ``rule`` would have done over the account's calls that ended in the ``days`` days before ``now``."""
    if not 1 <= days <= MAX_DAYS:
        raise BacktestInvalid("days", f"expected 1 to {MAX_DAYS} days, got {days}")
    since = now - timedelta(days=days)
    with database.session() as session:
        config = to_config(get_account(session, account))
        opted_out = frozenset(number for number, _ in list_optouts(session, account))
    limits = AccountLimits(config.sms_enabled, config.daily_cap, config.timezone, config.quiet_hours)
    replay = BacktestReplay(rule, config.policy(), limits, opted_out, internal_max_digits=internal_max_digits)
    calls = calls_table.c
    query = (
        select(calls_table)
        .where(calls.account == config.name, calls.ended_at >= since, calls.ended_at <= now)
        .order_by(calls.ended_at, calls.pbx, calls.call_id)
    )
    with database.engine.connect() as conn:
        for row in conn.execution_options(yield_per=_BATCH_ROWS).execute(query).mappings():
            replay.feed(call_of_row(row))
    return replay.finish(rule=rule.name, account=config.name, since=since, until=now)
