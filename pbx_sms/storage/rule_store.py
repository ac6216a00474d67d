"""Rules in the database: transactional import, export, listing, enable/disable, delete, runtime loading."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pbx_sms.core.bounds import RULE_NAME_MAX_CHARS
from pbx_sms.core.matching import AccountPolicy
from pbx_sms.core.rulefile import dump_rule_file
from pbx_sms.core.rules import Rule, RuleFile
from pbx_sms.core.sms_status import Status
from pbx_sms.db.config_tables import Account, CompanyNumber, RuleRow, Sender
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.storage.accounts import account_for_number, get_account, to_config
from pbx_sms.storage.errors import NotFound, Refused, StorageError
from pbx_sms.storage.records import DEFAULT_ACCOUNT
from pbx_sms.storage.rule_rows import RULE_COLUMNS, RuleProblem, StoredRuleInvalid, columns_to_rule, rule_to_columns
from pbx_sms.storage.values import can_be_stored

log = logging.getLogger(__name__)


# --- ownership checks (pure) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ownership:
    """What an account may use in its rules: its sender IDs, and who owns each company number."""

    account_id: int
    account_name: str
    senders: frozenset[str]
    number_owners: Mapping[str, str]  # E.164 → owning account name (numbers of every account)

    def problems(self, rule: Rule) -> list[tuple[str, str]]:
        """(field, message) for each sender/number the account may not use in this rule."""
        found: list[tuple[str, str]] = []
        if rule.then.sender not in self.senders:
            found.append(
                (
                    "then.sender",
                    f"sender {rule.then.sender!r} is not a sender of account {self.account_name!r} "
                    f"(add it: pbx-sms senders add {rule.then.sender!r} --account {self.account_name})",
                )
            )
        if rule.when.numbers != "all":
            for index, number in enumerate(rule.when.numbers):
                owner = self.number_owners.get(number)
                if owner == self.account_name or (owner is None and self.account_name == DEFAULT_ACCOUNT):
                    continue
                if owner is None:
                    message = (
                        f"number {number} is not a number of account {self.account_name!r} "
                        f"(add it: pbx-sms numbers add {number} --account {self.account_name})"
                    )
                else:
                    message = f"number {number} belongs to account {owner!r}, not {self.account_name!r}"
                found.append((f"when.numbers[{index}]", message))
        return found


def load_ownership(session: Session, account: Account) -> Ownership:
    senders = frozenset(session.scalars(select(Sender.sender).where(Sender.account_id == account.id)))
    owners = dict(
        session.execute(
            select(CompanyNumber.e164, Account.name).join(Account, CompanyNumber.account_id == Account.id)
        ).all()
    )
    return Ownership(account.id, account.name, senders, owners)


# --- import ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleSource:
    """The rules of one file, with the account they go to."""

    source: str
    account: str
    rules: Sequence[Rule]


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class ImportRejected(StorageError):
    """Nothing was imported; ``errors`` lists every reason."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("import rejected, the database is unchanged:\n  " + "\n  ".join(errors))


def _row_columns(row: RuleRow) -> dict[str, Any]:
    return {column: getattr(row, column) for column in RULE_COLUMNS}


def import_rules(session: Session, sources: Sequence[RuleSource], *, replace: bool = False) -> ImportResult:
    """Store the rules of these files, all or nothing.

    Rules are matched by (account, name): new ones are added, changed ones updated, identical ones left
    untouched (so re-importing an export changes nothing, timestamps included). With ``replace`` the
    accounts named by the files end up with exactly the files' rules.
    """
    by_account: dict[str, list[tuple[str, int, Rule]]] = defaultdict(list)
    for rule_source in sources:
        for index, rule in enumerate(rule_source.rules):
            by_account[rule_source.account].append((rule_source.source, index, rule))

    errors: list[str] = []
    plans: list[tuple[Account, list[Rule]]] = []
    for account_name, entries in by_account.items():
        account = session.scalar(select(Account).where(Account.name == account_name))
        if account is None:
            files = sorted({source for source, _, _ in entries})
            errors.append(f"{', '.join(files)}: account {account_name!r} does not exist (pbx-sms accounts add)")
            continue
        ownership = load_ownership(session, account)
        first_seen: dict[str, str] = {}
        for source, index, rule in entries:
            where = f"{source}: rules[{index}] ({rule.name!r})"
            if rule.name in first_seen:
                errors.append(
                    f"{where}: name: duplicate rule name in account {account_name!r} (also {first_seen[rule.name]})"
                )
            else:
                first_seen[rule.name] = f"{source}: rules[{index}]"
            errors.extend(f"{where}: {field_name}: {message}" for field_name, message in ownership.problems(rule))
        plans.append((account, [rule for _, _, rule in entries]))
    if errors:
        raise ImportRejected(errors)

    result = ImportResult()
    for account, rules in plans:
        existing = {row.name: row for row in session.scalars(select(RuleRow).where(RuleRow.account_id == account.id))}
        for rule in rules:
            columns = rule_to_columns(rule)
            label = f"{account.name}/{rule.name}"
            row = existing.get(rule.name)
            if row is None:
                session.add(RuleRow(account_id=account.id, name=rule.name, **columns))
                result.added.append(label)
            elif _row_columns(row) != columns:
                for column, value in columns.items():
                    setattr(row, column, value)
                result.updated.append(label)
            else:
                result.unchanged.append(label)
        if replace:
            wanted = {rule.name for rule in rules}
            for name, row in sorted(existing.items()):
                if name not in wanted:
                    session.delete(row)  # its queued SMS: cancelled by a trigger (migration 0005)
                    result.deleted.append(f"{account.name}/{name}")
    session.flush()
    return result


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredRule:
    """A row of the rules table, with the validated rule or the reasons it is invalid."""

    id: int
    account: str
    name: str
    enabled: bool
    rule: Rule | None
    problems: tuple[RuleProblem, ...]
    created_at: datetime | None
    updated_at: datetime | None
    # The stored values that define the rule (name and RULE_COLUMNS), read with it: what its version is made of.
    content: Mapping[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.rule is not None and not self.problems


def check_row(account: str, name: str, columns: dict[str, Any], ownership: Ownership | None) -> StoredRule:
    rule_id = columns.pop("id")
    created_at = columns.pop("created_at", None)
    updated_at = columns.pop("updated_at", None)
    enabled = bool(columns.get("enabled"))
    content = dict(columns)
    try:
        rule = columns_to_rule(account, name, columns)
    except StoredRuleInvalid as exc:
        return StoredRule(rule_id, account, name, enabled, None, tuple(exc.problems), created_at, updated_at, content)
    problems: tuple[RuleProblem, ...] = ()
    if ownership is not None:
        problems = tuple(
            RuleProblem(account, name, "sender" if field_name == "then.sender" else "numbers", message)
            for field_name, message in ownership.problems(rule)
        )
    return StoredRule(rule_id, account, name, enabled, rule, problems, created_at, updated_at, content)


RULE_ROW_COLUMNS = (RuleRow.id, RuleRow.name, *(getattr(RuleRow, column) for column in RULE_COLUMNS))


def stored_rules(
    session: Session, account_name: str, *, enabled_only: bool = False, name: str | None = None
) -> list[StoredRule]:
    """The account's rules by name, each validated (model, sender, numbers); invalid ones carry problems."""
    account = get_account(session, account_name)
    if name is not None and not can_be_stored(name, RULE_NAME_MAX_CHARS):
        return []
    query = select(*RULE_ROW_COLUMNS, RuleRow.created_at, RuleRow.updated_at).where(RuleRow.account_id == account.id)
    if enabled_only:
        query = query.where(RuleRow.enabled.is_(True))
    if name is not None:
        query = query.where(RuleRow.name == name)
    ownership = load_ownership(session, account)
    rows = session.execute(query.order_by(RuleRow.name)).mappings().all()
    return [check_row(account.name, row["name"], dict(row), ownership) for row in rows]


def get_stored_rule(session: Session, account_name: str, name: str) -> StoredRule:
    found = stored_rules(session, account_name, name=name)
    if not found:
        raise NotFound(f"account {account_name!r} has no rule named {name!r} (see `pbx-sms rules list`)")
    return found[0]


def export_rules(session: Session, account_name: str) -> str:
    """The account's rules as a rule file (YAML), by name; refused if a stored rule is invalid."""
    rules = stored_rules(session, account_name)
    problems = [problem for stored in rules if stored.rule is None for problem in stored.problems]
    if problems:
        raise Refused(
            "cannot export invalid rules (fix them in the database first):\n  " + "\n  ".join(map(str, problems))
        )
    rule_file = RuleFile(account=account_name, rules=[stored.rule for stored in rules if stored.rule is not None])
    return dump_rule_file(rule_file)


# --- changing one rule ---------------------------------------------------------------------------


def rule_row(session: Session, account_name: str, name: str, *, lock: bool = False) -> RuleRow:
    """The account's rule of this name (NotFound otherwise); ``lock``: held until the transaction ends,
    so a check of its current version and the change that follows cannot be interleaved with another."""
    account = get_account(session, account_name)
    row = None
    if can_be_stored(name, RULE_NAME_MAX_CHARS):
        query = select(RuleRow).where(RuleRow.account_id == account.id, RuleRow.name == name)
        row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(f"account {account_name!r} has no rule named {name!r} (see `pbx-sms rules list`)")
    return row


def set_rule_enabled(session: Session, account_name: str, name: str, enabled: bool) -> bool:
    """Enable or disable a rule without touching anything else; returns False when it already was.

    Enabling re-checks the rule (it may have been edited by hand, or its sender removed meanwhile).
    """
    row = rule_row(session, account_name, name)
    if row.enabled == enabled:
        return False
    if enabled:
        stored = get_stored_rule(session, account_name, name)
        if not stored.valid:
            raise Refused(f"rule {name!r} cannot be enabled:\n  " + "\n  ".join(map(str, stored.problems)))
    row.enabled = enabled
    session.flush()
    return True


def delete_rule(session: Session, account_name: str, name: str) -> int:
    """Delete a rule; a trigger cancels its queued SMS (migration 0005). Returns how many it cancelled."""
    row = rule_row(session, account_name, name)
    cancelled = (
        session.scalar(
            select(func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.rule_id == row.id, outbox_table.c.status == Status.QUEUED)
        )
        or 0
    )
    session.delete(row)
    session.flush()
    return cancelled


# --- runtime -------------------------------------------------------------------------------------


def log_problems(problems: Iterable[RuleProblem], logger: logging.Logger = log) -> None:
    """One error per invalid rule, naming the rule and the column(s) to fix."""
    by_rule: dict[tuple[str, str], list[RuleProblem]] = defaultdict(list)
    for problem in problems:
        by_rule[(problem.account, problem.rule)].append(problem)
    for (account, rule), found in by_rule.items():
        details = "; ".join(f"column {problem.field}: {problem.message}" for problem in found)
        logger.error(
            "rule %r of account %r is invalid and skipped: %s",
            rule,
            account,
            details,
            extra={"account": account, "rule": rule, "columns": [problem.field for problem in found]},
        )


def load_enabled_rules(session: Session, account_name: str) -> tuple[list[StoredRule], list[RuleProblem]]:
    """The account's enabled rules that are valid, and the problems of those that are not."""
    rules = stored_rules(session, account_name, enabled_only=True)
    return [stored for stored in rules if stored.valid], [problem for stored in rules for problem in stored.problems]


def load_account_rules(session: Session, account_name: str) -> tuple[AccountPolicy, list[Rule]]:
    """What a dry run needs: the account as the matcher sees it and its enabled, valid rules
    (invalid ones are logged and left out)."""
    account = to_config(get_account(session, account_name))
    valid, problems = load_enabled_rules(session, account_name)
    log_problems(problems)
    return account.policy(), [stored.rule for stored in valid if stored.rule is not None]


def load_rules_for_number(session: Session, e164: str | None) -> tuple[AccountPolicy, list[Rule]]:
    """Like load_account_rules, for the account that owns this company number (``default`` if none)."""
    return load_account_rules(session, account_for_number(session, e164).name)
