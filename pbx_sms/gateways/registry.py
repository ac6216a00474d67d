"""Gateways by name: every ``pbx_sms.gateways`` entry point is a factory ``(Settings) -> Gateway``.

Third-party packages add theirs by declaring an entry point in that group; nothing here knows them.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from pbx_sms.gateways.base import Gateway, GatewayConfigError

if TYPE_CHECKING:
    from pbx_sms.config import Settings

ENTRY_POINT_GROUP = "pbx_sms.gateways"


def _entry_points() -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}


def available_gateways() -> list[str]:
    return sorted(_entry_points())


def create_gateway(settings: Settings) -> Gateway:
    """The gateway named by ``PBX_SMS_GATEWAY``, configured from its own settings."""
    found = _entry_points()
    entry = found.get(settings.gateway)
    if entry is None:
        names = ", ".join(sorted(found)) or "none installed"
        raise GatewayConfigError(f"PBX_SMS_GATEWAY: unknown gateway {settings.gateway!r} (available: {names})")
    try:
        factory = entry.load()
    except Exception as exc:  # a broken plugin must not take the message of its import error down with it
        raise GatewayConfigError(
            f"PBX_SMS_GATEWAY: gateway {settings.gateway!r} ({entry.value}) cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return factory(settings)
