"""The daemon's view of the configuration, reloaded when the database says something changed.

Every INSERT/UPDATE/DELETE on accounts, numbers, senders, rules or opt-outs bumps
``config_version.version`` through a trigger (see the first migration), whoever makes it: the CLI,
another host, or an admin typing SQL. Checking for changes is one single-row SELECT, so the cache
can afford to look every second; it reloads everything only when the number moved.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pbx_sms.core.rules import Rule
from pbx_sms.db.config_tables import Account, CompanyNumber, ConfigVersion, RuleRow, Sender
from pbx_sms.db.engine import Database
from pbx_sms.storage.accounts import to_config
from pbx_sms.storage.records import DEFAULT_ACCOUNT, AccountConfig
from pbx_sms.storage.rule_rows import RuleProblem
from pbx_sms.storage.rule_store import RULE_ROW_COLUMNS, Ownership, check_row, log_problems

log = logging.getLogger(__name__)

DEFAULT_CHECK_INTERVAL_S = 1.0


def config_version(session: Session) -> int | None:
    """The change counter; None when its row is missing (then every check reloads)."""
    return session.scalar(select(ConfigVersion.version).where(ConfigVersion.id == 1))


@dataclass(frozen=True, slots=True)
class ActiveRule:
    id: int
    rule: Rule


@dataclass(frozen=True)
class ConfigSnapshot:
    """Everything the rule matcher needs, as plain immutable data."""

    version: int | None
    accounts: Mapping[str, AccountConfig]
    number_owners: Mapping[str, str]  # E.164 → account name
    rules: Mapping[str, tuple[ActiveRule, ...]]  # account name → enabled, valid rules by name
    problems: tuple[RuleProblem, ...] = field(default=())

    def account_for_number(self, e164: str | None) -> AccountConfig:
        """The owning account of a company number; ``default`` when no account owns it."""
        name = self.number_owners.get(e164 or "", DEFAULT_ACCOUNT)
        return self.accounts[name]

    def rules_for(self, account_name: str) -> tuple[ActiveRule, ...]:
        return self.rules.get(account_name, ())


def load_snapshot(session: Session) -> ConfigSnapshot:
    """Read the whole configuration in one transaction (a consistent view on both databases)."""
    version = config_version(session)
    accounts = {account.name: account for account in session.scalars(select(Account))}
    names_by_id = {account.id: account.name for account in accounts.values()}
    owners = {
        e164: names_by_id[account_id]
        for e164, account_id in session.execute(select(CompanyNumber.e164, CompanyNumber.account_id))
    }
    senders: dict[int, set[str]] = defaultdict(set)
    for account_id, sender in session.execute(select(Sender.account_id, Sender.sender)):
        senders[account_id].add(sender)
    rows = session.execute(
        select(*RULE_ROW_COLUMNS, RuleRow.account_id).where(RuleRow.enabled.is_(True)).order_by(RuleRow.name)
    ).mappings()
    rules: dict[str, list[ActiveRule]] = defaultdict(list)
    problems: list[RuleProblem] = []
    for row in rows:
        columns = dict(row)
        account_id = columns.pop("account_id")
        account_name = names_by_id[account_id]
        ownership = Ownership(account_id, account_name, frozenset(senders[account_id]), owners)
        try:
            stored = check_row(account_name, columns["name"], columns, ownership)
        except Exception as exc:  # a hand-edited row must never take the daemon down
            problems.append(RuleProblem(account_name, str(columns.get("name")), "?", f"unreadable: {exc}"))
            continue
        if stored.valid and stored.rule is not None:
            rules[account_name].append(ActiveRule(stored.id, stored.rule))
        else:
            problems.extend(stored.problems)
    return ConfigSnapshot(
        version=version,
        accounts={name: to_config(account) for name, account in accounts.items()},
        number_owners=owners,
        rules={name: tuple(active) for name, active in rules.items()},
        problems=tuple(problems),
    )


class ConfigCache:
    """The current ConfigSnapshot, re-checked at most every ``check_interval_s`` (sync; cheap).

    An invalid rule is logged once (per distinct problem), not at every reload.
    """

    def __init__(
        self,
        database: Database,
        *,
        check_interval_s: float = DEFAULT_CHECK_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self._database = database
        self._check_interval_s = check_interval_s
        self._clock = clock
        self._logger = logger
        self._snapshot: ConfigSnapshot | None = None
        self._checked_at = float("-inf")
        self._reported: set[RuleProblem] = set()

    def snapshot(self) -> ConfigSnapshot:
        """The configuration, fresh to within ``check_interval_s``."""
        now = self._clock()
        if self._snapshot is None or now - self._checked_at >= self._check_interval_s:
            self.refresh()
            self._checked_at = now
        assert self._snapshot is not None
        return self._snapshot

    def refresh(self) -> bool:
        """Reload if the database changed since the last load; returns True when it reloaded."""
        with self._database.session() as session:
            known = self._snapshot.version if self._snapshot is not None else None
            if known is not None and config_version(session) == known:
                return False
            snapshot = load_snapshot(session)
        self._report(snapshot.problems)
        self._snapshot = snapshot
        return True

    def _report(self, problems: tuple[RuleProblem, ...]) -> None:
        new = [problem for problem in problems if problem not in self._reported]
        if new:
            log_problems(new, self._logger)
        self._reported = set(problems)
