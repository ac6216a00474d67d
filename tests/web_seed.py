"""A `web_world` with something in every table the API shows, and a value for every path parameter.

Per account (``acme``, ``globex``): a company number, a sender, a valid rule using both, an account
opt-out, three SMS (one queued, one sent, one failed) and a processed call in the call log; a clerk
(a viewer no test logs in as, so a route may disable, remove or re-role them) with a token (so a route
may revoke it). Plus one global opt-out. Everything goes through the storage functions and the outbox
store, as the CLI and the daemon write it.

Every value differs between the accounts: globex's rule name, number or SMS id under acme's path must
be "not found", not acme's object of the same name.
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
PATH_PARAMETERS = ("account", "rule", "e164", "sender", "optout", "sms_id", "user", "token_id")
PBX = "pbx-seed"
COUNTRY = "PL"
GLOBAL_OPTOUT = "+48609999999"
WORKER = "seed-worker"


@dataclass(frozen=True, slots=True)
class Names:
    """What an account is seeded with, known before seeding (the ids are the database's)."""

    account: str
    rule: str
    e164: str
    sender: str
    optout: str
    caller: str  # the call log's other party
    user: str  # the clerk

    @classmethod
    def of(cls, account: str, index: int) -> Names:
        return cls(
            account,
            rule=f"{account}-missed",
            e164=f"+4822100000{index}",
            sender=account.upper(),
            optout=f"+4860100000{index}",
            caller=f"+4860200000{index}",
            user=f"{account}-clerk",
        )


NAMES = {account: Names.of(account, index) for index, account in enumerate(ACCOUNTS, 1)}


@dataclass(frozen=True, slots=True)
class AccountSeed:
    names: Names
    sms_ids: dict[str, int]  # status → id
    token_id: int  # the clerk's
    call_id: str

    @property
    def path_values(self) -> dict[str, str]:
        """A value for every path-parameter name of the API (see /work/wt/PREAMBLE.md)."""
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
        }


@dataclass(frozen=True, slots=True)
class Seed:
    accounts: dict[str, AccountSeed]
    global_optout: str

    def path_values(self, account: str) -> dict[str, str]:
        return self.accounts[account].path_values

    @property
    def global_values(self) -> dict[str, str]:
        """Values for routes without ``{account}`` (the operator's): acme's objects, the global opt-out."""
        return self.path_values("acme") | {"optout": self.global_optout}


def known_values() -> dict[str, list[str]]:
    """Per path parameter, values a fresh seed has (both accounts'), before seeding: for generated
    requests (schemathesis) that should sometimes hit a real object. Ids: a fresh seed numbers its
    6 SMS and 7 tokens from 1."""
    names = list(NAMES.values())
    ids = [str(row_id) for row_id in range(1, 8)]
    return {
        "account": [n.account for n in names],
        "rule": [n.rule for n in names],
        "e164": [n.e164 for n in names],
        "sender": [n.sender for n in names],
        "optout": [n.optout for n in names] + [GLOBAL_OPTOUT],
        "sms_id": ids,
        "user": [n.user for n in names],
        "token_id": ids,
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
    accounts = {account: _seed_account(database, names, now) for account, names in NAMES.items()}
    with database.write_session() as session:
        add_optout(session, GLOBAL_OPTOUT, None, COUNTRY)
    return Seed(accounts, GLOBAL_OPTOUT)


def _rules_text(account: str, rule: str, e164: str, sender: str) -> str:
    return f"""
account: {account}
rules:
  - name: {rule}
    when: {{direction: in, numbers: ["{e164}"], status: [no_answer, busy]}}
    then: {{sender: {sender}, to: [other_party], text: "Sorry we missed you, {account}", delay_s: 60}}
"""


def _seed_account(database: Database, names: Names, now: datetime) -> AccountSeed:
    account = names.account
    rules = parse_rule_text(_rules_text(account, names.rule, names.e164, names.sender)).rules
    with database.write_session() as session:
        add_number(session, names.e164, account)
        add_sender(session, names.sender, account)
        import_rules(session, [RuleSource("seed.yaml", account, rules)])
        add_optout(session, names.optout, account, COUNTRY)
        add_user(session, names.user, role="viewer", account=account, password=PASSWORD, hasher=FAST_HASHER)
        token, _secret = create_token(session, names.user, now, name="seed")
        account_id = get_account(session, account).id
        rule_id = get_stored_rule(session, account, names.rule).id
    call_id = f"{account}-call-1"
    started_at, ended_at = now - timedelta(minutes=2), now - timedelta(minutes=1)
    call = CompletedCall(call_id, "in", names.e164, names.caller, "no_answer", 0, started_at, ended_at)
    record_call(database.engine, call, PBX, "ami", now)
    mark_processed(database.engine, PBX, call_id, account, now)
    sms_ids = _seed_sms(database, account_id, rule_id, names, call_id, now)
    return AccountSeed(names, sms_ids, token.id, call_id)


def _seed_sms(
    database: Database, account_id: int, rule_id: int, names: Names, call_id: str, now: datetime
) -> dict[str, int]:
    """One SMS of each of queued, sent and failed, to different numbers (as a rule with three recipients)."""
    store = SqlOutbox(database.engine)
    planned = [
        sms(
            account_id,
            rule_id=rule_id,
            rule_name=names.rule,
            sender=names.sender,
            call_id=call_id,
            other_party=names.caller,
            to=to,
            due_at=due_at,
        )
        for to, due_at in (
            (f"+4860300{account_id:04d}", now + timedelta(hours=1)),
            (f"+4860400{account_id:04d}", now),
            (f"+4860500{account_id:04d}", now),
        )
    ]
    queued, sent, failed = store.enqueue(planned, now).queued
    worker = f"{WORKER}-{account_id}"
    claimed = {row.id for row in store.claim_due(worker, now, 10, 30)}
    assert claimed >= {sent, failed}, f"the seed's due SMS were not claimed: {claimed}"
    store.apply(worker, [Sent(sent, "seed", f"msg-{sent}"), Failed(failed, "permanent: HTTP 400: invalid number")], now)
    return {"queued": queued, "sent": sent, "failed": failed}
