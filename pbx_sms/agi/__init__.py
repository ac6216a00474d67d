"""The AGI hangup hook: a second way to feed completed calls in, for PBXs without AMI.

``pbx_sms.agi.arguments`` says what the dialplan passes and in which order (the snippet in
``asterisk-conf/extensions_pbx_sms.conf`` and its test read it from there), ``pbx_sms.agi.mapping``
turns those values into a CompletedCall (pure), ``pbx_sms.agi.hook`` is the script's I/O.
This package imports nothing heavy, so the hook starts fast.
"""

from pbx_sms.agi.arguments import AGI_ARGUMENTS, AGI_SCRIPT_NAME, AgiArgument, dialplan_agi_line

__all__ = ["AGI_ARGUMENTS", "AGI_SCRIPT_NAME", "AgiArgument", "dialplan_agi_line"]
