"""Ports for a daemon a test starts in-process: never the defaults (4573, 9464), which a parallel
test (pytest-xdist) or a daemon running on the machine may hold."""

from __future__ import annotations

from ports import free_port

from pbx_sms.config import FastAgiSettings, MetricsSettings


def free_port_env() -> dict[str, str]:
    """The environment giving FastAGI a port of its own choosing and /metrics a free one."""
    return {"PBX_SMS_FASTAGI_PORT": "0", "PBX_SMS_METRICS_PORT": str(free_port())}


def free_port_sections() -> dict[str, FastAgiSettings | MetricsSettings]:
    """The same, as ``Settings`` keyword arguments."""
    return {"fastagi": FastAgiSettings(port=0), "metrics": MetricsSettings(port=free_port())}
