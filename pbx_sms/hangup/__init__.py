"""What a hangup hook reports, read without I/O: shared by the spawned AGI script and the daemon.

``pbx_sms.hangup.arguments`` says what the dialplan passes and in which order (the snippet in
``asterisk-conf/extensions_pbx_sms.conf`` and its test read it from there); ``pbx_sms.hangup.mapping``
turns those values into a CompletedCall; ``pbx_sms.hangup.request`` reads one AGI request (the
environment) into that outcome, for the spawned script and the daemon's FastAGI server alike.
Pure and light, so the spawned hook starts fast.
"""

from pbx_sms.hangup.arguments import (
    AGI_ARGUMENTS,
    AGI_SCRIPT_NAME,
    FASTAGI_DEFAULT_URL,
    FASTAGI_SCRIPT_NAME,
    AgiArgument,
    dialplan_agi_line,
)

__all__ = [
    "AGI_ARGUMENTS",
    "AGI_SCRIPT_NAME",
    "FASTAGI_DEFAULT_URL",
    "FASTAGI_SCRIPT_NAME",
    "AgiArgument",
    "dialplan_agi_line",
]
