"""The words the SMS log and the dashboard show for stored values (statuses, directions), translated."""

from __future__ import annotations

from collections.abc import Callable

from pbx_sms.core.delivery import DeliveryStatus
from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status

Translate = Callable[[str], str]


def sms_status_labels(_: Translate) -> dict[str, str]:
    labels = {
        Status.QUEUED: _("queued"),
        Status.SENDING: _("sending"),
        Status.SENT: _("sent"),
        Status.FAILED: _("failed"),
        Status.SUPPRESSED: _("suppressed"),
        Status.CANCELLED: _("cancelled"),
        Status.UNCLEAR: _("unclear"),
    }
    return {str(status): label for status, label in labels.items()}


def call_status_labels(_: Translate) -> dict[str, str]:
    return {"answered": _("answered"), "no_answer": _("no answer"), "busy": _("busy"), "failed": _("failed")}


def direction_labels(_: Translate) -> dict[str, str]:
    return {"in": _("incoming"), "out": _("outgoing")}


def daemon_state_labels(_: Translate) -> dict[str, str]:
    """By the first word of daemon.status's state ("gone (process ended …)" is "gone")."""
    return {"running": _("running"), "stopped": _("stopped"), "not": _("not responding"), "gone": _("gone")}


def reason_labels(_: Translate) -> dict[str, str]:
    """Why an SMS was not sent (core.reasons), in words; a value not listed is shown as stored."""
    labels = {
        Reason.SERVICE_INACTIVE: _("the SMS service is switched off"),
        Reason.ANONYMOUS: _("the caller ID is withheld"),
        Reason.INVALID_NUMBER: _("not a valid phone number"),
        Reason.INTERNAL_NUMBER: _("an internal extension"),
        Reason.COUNTRY_NOT_ALLOWED: _("a country the account does not allow"),
        Reason.LANDLINE: _("a landline, which cannot receive SMS"),
        Reason.NOT_MOBILE: _("not a mobile number"),
        Reason.TOO_MANY_PARTS: _("the text needs more parts than the rule allows"),
        Reason.OPTED_OUT: _("the number opted out"),
        Reason.DAILY_CAP: _("the daily cap was reached"),
        Reason.MIN_INTERVAL: _("an SMS went to this number within the minimum interval"),
        Reason.REACHED_PERSON: _("a later call reached the person"),
        Reason.RULE_DELETED: _("the rule was deleted"),
        Reason.CANCELLED_BY_ADMIN: _("cancelled by an admin"),
        Reason.REPLANNED: _("replanned from a better view of the call"),
    }
    return {str(reason): label for reason, label in labels.items()}


def delivery_labels(_: Translate) -> dict[str, str]:
    """What the provider reported of an SMS (core.delivery), in words."""
    labels = {
        DeliveryStatus.QUEUED: _("queued at the provider"),
        DeliveryStatus.SENDING: _("being sent by the provider"),
        DeliveryStatus.SENT: _("sent by the provider"),
        DeliveryStatus.ACCEPTED: _("accepted by the network"),
        DeliveryStatus.DELIVERED: _("delivered"),
        DeliveryStatus.UNDELIVERED: _("undelivered"),
        DeliveryStatus.EXPIRED: _("expired"),
        DeliveryStatus.REJECTED: _("rejected"),
        DeliveryStatus.UNKNOWN: _("no final report yet"),
    }
    return {str(status): label for status, label in labels.items()}
