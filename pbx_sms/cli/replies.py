"""``pbx-sms replies``: the SMS received back (replies to our SMS), with the SMS each answers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from pbx_sms.cli.db import opened_database, print_json, print_table
from pbx_sms.cli.outbox import JsonOpt
from pbx_sms.core.bounds import BIGINT_MAX
from pbx_sms.storage.replies import list_replies

MAX_LISTED = 100_000  # a --limit past a 64-bit integer is no limit, not a database error


def replies(
    ctx: typer.Context,
    sms: Annotated[
        int | None, typer.Option("--sms", min=1, max=BIGINT_MAX, help="Only the replies to this SMS (its log id).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 100,
    json_output: JsonOpt = False,
) -> None:
    """Replies: when, from whom, the text, the SMS it answers and its account, and whether it opted out."""
    with opened_database(ctx) as database, database.session() as session:
        found = list_replies(session, sms_id=sms, limit=min(limit, MAX_LISTED))
    if json_output:
        print_json([asdict(reply) | {"received_at": reply.received_at.isoformat()} for reply in found])
        return
    print_table(
        ["ID", "RECEIVED", "FROM", "TO", "SMS", "ACCOUNT", "OPT-OUT", "TEXT"],
        [
            (
                reply.id,
                reply.received_at.isoformat(timespec="seconds"),
                reply.from_number,
                reply.to_number,
                reply.sms_id if reply.sms_id is not None else "-",
                reply.account or "-",
                "yes" if reply.opt_out else "",
                reply.text,
            )
            for reply in found
        ],
    )
