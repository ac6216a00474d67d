"""What the dialplan hands the hangup hook, in order (pure, no imports beyond the standard library).

Everything the hook needs travels as AGI arguments, so the script spends no AGI round trips
while the hung-up channel waits to be destroyed. The free-text argument (the caller ID, which a
caller can fill with commas that Asterisk would split on) comes last: extra arguments are the
tail of that one value, joined back.
"""

from __future__ import annotations

from typing import NamedTuple

AGI_SCRIPT_NAME = "pbx-sms-hangup.agi"
# The daemon's FastAGI server answers this path (agi://HOST:PORT/pbx-sms-hangup[/SECRET]).
FASTAGI_SCRIPT_NAME = "pbx-sms-hangup"
FASTAGI_DEFAULT_URL = f"agi://127.0.0.1:4573/{FASTAGI_SCRIPT_NAME}"


class AgiArgument(NamedTuple):
    name: str
    # The dialplan expression that yields the value on the caller's channel at hangup.
    dialplan: str
    meaning: str


AGI_ARGUMENTS: tuple[AgiArgument, ...] = (
    AgiArgument("linkedid", "${CHANNEL(linkedid)}", "the call id (Asterisk Linkedid), shared with the AMI listener"),
    AgiArgument("direction", "${PBXSMS_DIRECTION}", "in / out, set by pbxsms-tag-in / pbxsms-tag-out"),
    AgiArgument("start_epoch", "${PBXSMS_START}", "epoch seconds when the call was tagged"),
    AgiArgument("end_epoch", "${EPOCH}", "epoch seconds at hangup"),
    AgiArgument("dial_status", "${DIALSTATUS}", "result of the last Dial() (empty when none ran)"),
    AgiArgument("answered_time", "${ANSWEREDTIME}", "seconds talked after the last Dial() was answered"),
    AgiArgument("queue_status", "${QUEUESTATUS}", "result of Queue() when it returned (TIMEOUT, FULL, ...)"),
    AgiArgument(
        "member_interface", "${MEMBERINTERFACE}", "the queue member that answered (queues.conf setinterfacevar=yes)"
    ),
    AgiArgument(
        "answered_epoch",
        "${SHARED(PBXSMS_ANSWERED_AT)}",
        "epoch seconds when a person answered, set by the pbxsms-answered subroutine",
    ),
    AgiArgument("hangup_cause", "${HANGUPCAUSE}", "Q.850 cause of the caller's channel"),
    AgiArgument("did", "${PBXSMS_DID}", "the company number"),
    AgiArgument("other_party", "${PBXSMS_OTHER}", "the caller (in) or the dialled number (out); free text, last"),
)
ARGUMENT_NAMES: tuple[str, ...] = tuple(argument.name for argument in AGI_ARGUMENTS)


def dialplan_agi_line(target: str = AGI_SCRIPT_NAME) -> str:
    """The AGI() application call the hangup handler runs: the spawned script, or a FastAGI URL."""
    return f"AGI({target}," + ",".join(argument.dialplan for argument in AGI_ARGUMENTS) + ")"
