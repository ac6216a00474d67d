"""The daemon's FastAGI server: the dialplan's hangup hook over TCP instead of a process per call.

``access`` decides who may report calls (pure); ``server`` speaks the protocol on asyncio streams,
bounded everywhere, and hands each call to a callback (the daemon's call recorder) without waiting
for the database.
"""

from pbx_sms.fastagi.server import FastAgiCounters, FastAgiListenError, FastAgiServer

__all__ = ["FastAgiCounters", "FastAgiListenError", "FastAgiServer"]
