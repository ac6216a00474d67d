"""A `web_world` with something in every table the API shows, and a value for every path parameter.

Per account (``acme``, ``globex``), twice over (copy 1 and copy 2): a company number, a sender, a
valid rule using both, an account opt-out, a processed call in the call log and three SMS of it (one
queued, one sent, one failed); a clerk (a viewer no test logs in as, so a route may disable, remove or
re-role them) with a token (so a route may revoke it). Plus one global opt-out. Everything goes
through the storage functions and the outbox store, as the CLI and the daemon write it.

Two copies so that two callers can each delete "the" number (rule, sender ...) of one account: the
access matrix gives the operator copy 1 and the admin copy 2. Every value differs between accounts
and copies: globex's rule name, number or SMS id under acme's path must be "not found", not acme's
object of the same name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from outbox_world import sms
from web_world import ACCOUNTS, FAST_HASHER, PASSWORD, WebWorld, web_world

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.db.engine import Database
from pbx_sms.intake.calls import mark_processed, record_call
from pbx_sms.outbox.model import Failed, Sent
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.api_tokens import create_token
from pbx_sms.storage.numbers import add_number, add_sender
from pbx_sms.storage.optouts import add_optout
from pbx_sms.storage.rule_store import RuleSource, get_stored_rule, import_rules
from pbx_sms.storage.users import add_user

# The path-parameter names of the API (/work/wt/PREAMBLE.md): every one has a value in ``path_values``.
PATH_PARAMETERS = ("account", "rule", "e164", "sender", "optout", "sms_id", "user", "token_id", "token")
# The callbacks' secret path segment (/hooks/smsapi/{token}/...): a wrong one, the seed sets none.
HOOK_TOKEN_VALUE = "not-the-hook-token"
COPIES = (1, 2)
PBX = "pbx-seed"
COUNTRY = "PL"
GLOBAL_OPTOUT = "+48609999999"
WORKER = "seed-worker"
SMS_STATUSES = ("queued", "sent", "failed")
# Ids 1 to this cover a fresh seed's 12 SMS and its 9 tokens (web_world's 5 users' and the 4 clerks').
SEEDED_ID_COUNT = len(ACCOUNTS) * len(COPIES) * len(SMS_STATUSES)


@dataclass(frozen=True, slots=True)
class Names:
    """What one copy of an account is seeded with, known before seeding (the ids are the database's)."""

    account: str
    rule: str
    e164: str
    sender: str
    optout: str
    caller: str  # the call log's other party
    recipients: tuple[str, str, str]  # of the queued, sent and failed SMS
    user: str  # the clerk
    call_id: str

    @classmethod
    def of(cls, account: str, index: int, copy: int) -> Names:
        suffix = "" if copy == 1 else f"-{copy}"
        digits = f"{index}{copy}"  # each number below is a valid Polish number of its own
        return cls(
            account,
            rule=f"{account}-missed{suffix}",
            e164=f"+482210000{digits}",
            sender=f"{account.upper()}{'' if copy == 1 else copy}",
            optout=f"+486010000{digits}",
            caller=f"+486020000{digits}",
            recipients=(f"+486030000{digits}", f"+486040000{digits}", f"+486050000{digits}"),
            user=f"{account}-clerk{suffix}",
            call_id=f"{account}-call{suffix}",
        )


NAMES = {
    (account, copy): Names.of(account, index, copy) for index, account in enumerate(ACCOUNTS, 1) for copy in COPIES
}


@dataclass(frozen=True, slots=True)
class CopySeed:
    names: Names
    sms_ids: dict[str, int]  # status → id
    token_id: int  # the clerk's

    @property
    def path_values(self) -> dict[str, str]:
        """A value for every path-parameter name of the API."""
        names = self.names
        return {
            "account": names.account,
            "rule": names.rule,
            "e164": names.e164,
            "sender": names.sender,
            "optout": names.optout,
            "sms_id": str(self.sms_ids["queued"]),
            "user": names.user,
            "token_id": str(self.token_id),
            "token": HOOK_TOKEN_VALUE,
        }


@dataclass(frozen=True, slots=True)
class Seed:
    copies: dict[tuple[str, int], CopySeed]  # (account, copy) →
    global_optout: str

    def path_values(self, account: str, copy: int = 1) -> dict[str, str]:
        return self.copies[account, copy].path_values

    def global_values(self, copy: int = 1) -> dict[str, str]:
        """Values for routes without ``{account}`` (the operator's): acme's objects, the global opt-out."""
        return self.path_values(ACCOUNTS[0], copy) | {"optout": self.global_optout}


def known_values() -> dict[str, list[str]]:
    """Per path parameter, the values a fresh seed has, known before seeding: for generated requests
    (schemathesis) that should often hit a real object."""
    names = list(NAMES.values())
    ids = [str(row_id) for row_id in range(1, SEEDED_ID_COUNT + 1)]
    return {
        "account": list(ACCOUNTS),
        "rule": [n.rule for n in names],
        "e164": [n.e164 for n in names],
        "sender": [n.sender for n in names],
        "optout": [n.optout for n in names] + [GLOBAL_OPTOUT],
        "sms_id": ids,
        "user": [n.user for n in names],
        "token_id": ids,
        "token": [HOOK_TOKEN_VALUE],
    }


@dataclass(frozen=True, slots=True)
class SeededWorld:
    world: WebWorld
    seed: Seed


def seeded_world(database_url: str) -> Iterator[SeededWorld]:
    """The generator behind a fixture: ``yield from seeded_world(database_url)``."""
    for world in web_world(database_url):
        yield SeededWorld(world, seed_database(world.database))


def seed_database(database: Database, now: datetime | None = None) -> Seed:
    """Fill a database that has web_world's accounts and users (see the module docstring)."""
    now = now or datetime.now(UTC)
    copies = {key: _seed_copy(database, names, now) for key, names in NAMES.items()}
    with database.write_session() as session:
        add_optout(session, GLOBAL_OPTOUT, None, COUNTRY)
    return Seed(copies, GLOBAL_OPTOUT)


def _rules_text(names: Names) -> str:
    return f"""
account: {names.account}
rules:
  - name: {names.rule}
    when: {{direction: in, numbers: ["{names.e164}"], status: [no_answer, busy]}}
    then: {{sender: {names.sender}, to: [other_party], text: "Sorry we missed you, {names.account}", delay_s: 60}}
"""


def _seed_copy(database: Database, names: Names, now: datetime) -> CopySeed:
    account = names.account
    with database.write_session() as session:
        add_number(session, names.e164, account)
        add_sender(session, names.sender, account)
        import_rules(session, [RuleSource("seed.yaml", account, parse_rule_text(_rules_text(names)).rules)])
        add_optout(session, names.optout, account, COUNTRY)
        add_user(
            session, names.user, role="viewer", account=account, password=PASSWORD, language="en", hasher=FAST_HASHER
        )
        token, _secret = create_token(session, names.user, now, name="seed")
        account_id = get_account(session, account).id
        rule_id = get_stored_rule(session, account, names.rule).id
    started_at, ended_at = now - timedelta(minutes=2), now - timedelta(minutes=1)
    call = CompletedCall(names.call_id, "in", names.e164, names.caller, "no_answer", 0, started_at, ended_at)
    record_call(database.engine, call, PBX, "ami", now)
    mark_processed(database.engine, PBX, names.call_id, account, now)
    return CopySeed(names, _seed_sms(database, account_id, rule_id, names, now), token.id)


def _seed_sms(database: Database, account_id: int, rule_id: int, names: Names, now: datetime) -> dict[str, int]:
    """The call's SMS, one queued (due in an hour), one sent, one failed (as a rule with three recipients)."""
    store = SqlOutbox(database.engine)
    due = (now + timedelta(hours=1), now, now)
    planned = [
        sms(
            account_id,
            rule_id=rule_id,
            rule_name=names.rule,
            sender=names.sender,
            call_id=names.call_id,
            other_party=names.caller,
            to=to,
            due_at=due_at,
        )
        for to, due_at in zip(names.recipients, due, strict=True)
    ]
    queued, sent, failed = store.enqueue(planned, now).queued
    worker = f"{WORKER}-{names.call_id}"
    claimed = {row.id for row in store.claim_due(worker, now, len(planned), 30)}
    assert claimed == {sent, failed}, f"the seed's due SMS were not claimed: {claimed}"
    store.apply(worker, [Sent(sent, "seed", f"msg-{sent}"), Failed(failed, "permanent: HTTP 400: invalid number")], now)
    return {"queued": queued, "sent": sent, "failed": failed}
