"""Why an SMS is not sent (the outbox row's ``reason`` when suppressed or cancelled): one vocabulary for
the matcher, the outbox, intake and the SMS log.

The values are stored in users' databases and shown in the SMS log: never change one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Reason(StrEnum):
    # Decided by the matcher from the call and the rule (documented in docs/rules.md).
    SERVICE_INACTIVE = "sms_service_inactive"  # the account's SMS service is switched off (also at send time)
    ANONYMOUS = "anonymous"  # the caller ID is withheld (anonymous, restricted, unknown or empty)
    INVALID_NUMBER = "invalid_number"  # the recipient is not a valid phone number
    INTERNAL_NUMBER = "internal_number"  # the recipient is an internal extension of the PBX
    COUNTRY_NOT_ALLOWED = "country_not_allowed"  # the number is of a country the account does not allow
    LANDLINE = "landline"  # the other party is a landline, which cannot receive SMS
    NOT_MOBILE = "not_mobile"  # neither mobile nor landline (toll-free, premium, VoIP, pager ...)
    TOO_MANY_PARTS = "too_many_parts"  # the rendered text needs more parts than the rule's max_parts
    # Decided by the outbox from history and the account's limits, when queued and again when due.
    OPTED_OUT = "opted_out"
    DAILY_CAP = "daily_cap_reached"
    MIN_INTERVAL = "min_interval"
    # Cancelled: a later call reached the person, the rule was deleted (a database trigger), an admin, a re-plan.
    REACHED_PERSON = "reached_person"
    RULE_DELETED = "rule_deleted"
    CANCELLED_BY_ADMIN = "cancelled_by_admin"
    # A better view of the call (the AMI tracker's over the hangup hook's) planned differently before it went out.
    REPLANNED = "replanned"


MATCHER_REASONS: Final = frozenset(
    {
        Reason.SERVICE_INACTIVE,
        Reason.ANONYMOUS,
        Reason.INVALID_NUMBER,
        Reason.INTERNAL_NUMBER,
        Reason.COUNTRY_NOT_ALLOWED,
        Reason.LANDLINE,
        Reason.NOT_MOBILE,
        Reason.TOO_MANY_PARTS,
    }
)
