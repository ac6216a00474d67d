"""Store a reply, link it to the SMS it answers, and honour an opt-out keyword.

The SMS a reply answers is the latest one sent (or maybe sent) to the reply's sender from the number
the reply went to, before the reply came: a customer answers the text they last got from that number.
A reply that answers nothing we sent is stored without account. An opt-out keyword in such a reply
opts nobody out: the number was never texted by an account we know, and a global opt-out would let
anyone who can text our number silence every account; it is logged instead.

The opt-out is added with ``storage.optouts.add_optout`` in the same session, so the audit log records
it (after_flush) under the session's actor, "reply:<provider>".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pbx_sms.core.optout_keywords import is_optout
from pbx_sms.core.sms_status import COUNTS_AS_SENT
from pbx_sms.db.config_tables import Account
from pbx_sms.db.outbox_table import OutboxRecord
from pbx_sms.db.replies_table import ReplyRecord
from pbx_sms.storage.errors import AlreadyExists
from pbx_sms.storage.optouts import add_optout

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000  # a concatenated reply of a dozen parts; longer is cut, not refused
MAX_NUMBER_CHARS = 64
MAX_MESSAGE_ID_CHARS = 200


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A reply as a provider reported it."""

    provider: str
    message_id: str
    from_number: str
    to_number: str
    text: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    reply_id: int | None  # None: a duplicate of an earlier webhook (nothing stored)
    sms_id: int | None
    account_id: int | None
    account_name: str | None
    opt_out: bool  # the number is (now, or already) opted out of the account by this reply
    newly_opted_out: bool  # this reply added the opt-out (a confirmation may be sent)
    recipient: str | None  # the number as the outbox wrote it (E.164), when the SMS was found
    sender: str | None  # the sender of that SMS (where a confirmation goes out from)

    @property
    def duplicate(self) -> bool:
        return self.reply_id is None


DUPLICATE = ReplyOutcome(None, None, None, None, False, False, None, None)


def number_variants(number: str) -> list[str]:
    """How the outbox may have written ``number``: with and without the leading "+" (SMSAPI sends
    numbers without it, Twilio with it; an alphanumeric sender is itself)."""
    bare = number.strip().removeprefix("+")
    return sorted({number.strip(), bare, "+" + bare}) if bare.isdigit() else [number.strip()]


def answered_sms(session: Session, from_number: str, to_number: str, received_at: datetime) -> OutboxRecord | None:
    query = (
        select(OutboxRecord)
        .where(
            OutboxRecord.recipient.in_(number_variants(from_number)),
            OutboxRecord.sender.in_(number_variants(to_number)),
            OutboxRecord.status.in_([status.value for status in COUNTS_AS_SENT]),
            OutboxRecord.last_attempt_at <= received_at,
        )
        .order_by(OutboxRecord.last_attempt_at.desc(), OutboxRecord.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def record_reply(session: Session, reply: InboundSms, keywords: frozenset[str], default_country: str) -> ReplyOutcome:
    """Store ``reply`` once (a duplicate webhook stores nothing and changes nothing)."""
    known = select(ReplyRecord.id).where(
        ReplyRecord.provider == reply.provider, ReplyRecord.message_id == reply.message_id[:MAX_MESSAGE_ID_CHARS]
    )
    if session.scalar(known) is not None:
        return DUPLICATE
    sms = answered_sms(session, reply.from_number, reply.to_number, reply.received_at)
    account = session.get(Account, sms.account_id) if sms is not None else None
    keyword = is_optout(reply.text, keywords)
    opted_out = newly = False
    if keyword and account is not None and sms is not None:
        try:
            add_optout(session, sms.recipient, account.name, default_country, field="From")
            newly = True
        except AlreadyExists:
            pass
        opted_out = True
    row = ReplyRecord(
        provider=reply.provider,
        message_id=reply.message_id[:MAX_MESSAGE_ID_CHARS],
        from_number=reply.from_number[:MAX_NUMBER_CHARS],
        to_number=reply.to_number[:MAX_NUMBER_CHARS],
        text=reply.text[:MAX_TEXT_CHARS],
        received_at=reply.received_at,
        sms_id=sms.id if sms is not None else None,
        account_id=account.id if account is not None else None,
        opt_out=opted_out,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # The same webhook, delivered twice at once: the other request stored it.
        return DUPLICATE
    _log(reply, row, account, keyword, newly)
    return ReplyOutcome(
        row.id,
        row.sms_id,
        row.account_id,
        account.name if account is not None else None,
        opted_out,
        newly,
        sms.recipient if sms is not None else None,
        sms.sender if sms is not None else None,
    )


def _log(reply: InboundSms, row: ReplyRecord, account: Account | None, keyword: bool, newly: bool) -> None:
    if account is None:
        log.info(
            "reply %d (%s %s) from %s to %s answers no SMS we sent: stored without account%s",
            row.id,
            reply.provider,
            row.message_id,
            row.from_number,
            row.to_number,
            "; its opt-out keyword opts nobody out" if keyword else "",
        )
    elif keyword:
        log.info(
            "reply %d from %s to SMS %s is an opt-out keyword: %s opted out of account %s%s",
            row.id,
            row.from_number,
            row.sms_id,
            row.from_number,
            account.name,
            "" if newly else " (it already was)",
        )
    else:
        log.info("reply %d from %s answers SMS %s of account %s", row.id, row.from_number, row.sms_id, account.name)


@dataclass(frozen=True, slots=True)
class ReplyView:
    id: int
    provider: str
    from_number: str
    text: str
    received_at: datetime
    opt_out: bool


@dataclass(frozen=True, slots=True)
class ListedReply:
    """A reply in the CLI's list: with the SMS it answers and that SMS's account (None: none)."""

    id: int
    received_at: datetime
    provider: str
    message_id: str
    from_number: str
    to_number: str
    text: str
    sms_id: int | None
    account: str | None
    opt_out: bool


def list_replies(session: Session, *, sms_id: int | None = None, limit: int = 100) -> list[ListedReply]:
    """Replies newest first (of one SMS with ``sms_id``)."""
    query = select(ReplyRecord, Account.name).outerjoin(Account, ReplyRecord.account_id == Account.id)
    if sms_id is not None:
        query = query.where(ReplyRecord.sms_id == sms_id)
    rows = session.execute(query.order_by(ReplyRecord.received_at.desc(), ReplyRecord.id.desc()).limit(limit))
    return [
        ListedReply(
            row.id,
            row.received_at,
            row.provider,
            row.message_id,
            row.from_number,
            row.to_number,
            row.text,
            row.sms_id,
            name,
            row.opt_out,
        )
        for row, name in rows
    ]


def replies_of_sms(session: Session, sms_id: int) -> Sequence[ReplyView]:
    """The replies to SMS ``sms_id``, oldest first."""
    rows = session.scalars(
        select(ReplyRecord).where(ReplyRecord.sms_id == sms_id).order_by(ReplyRecord.received_at, ReplyRecord.id)
    )
    return [ReplyView(row.id, row.provider, row.from_number, row.text, row.received_at, row.opt_out) for row in rows]
