"""The words the SMS log and the dashboard show for stored values (statuses, directions), translated."""

from __future__ import annotations

from collections.abc import Callable

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
