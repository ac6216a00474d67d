"""Gateways by name: every ``pbx_sms.gateways`` entry point is a factory ``(Settings) -> Gateway``.

Third-party packages add theirs by declaring an entry point in that group; nothing here knows them.
A plain factory function reads its own settings (``settings.section(name)``); a ``GatewayPlugin``
declares a pydantic model instead, and its settings are validated like the built-in gateways'
(errors name the variable or TOML key, ``SecretStr`` fields stay hidden) before it is built.

Whatever the factory builds is handed out wrapped in a ``RedactingGateway`` (pbx_sms.gateways.redaction):
no configured secret reaches a stored reason or a log line, whichever gateway it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from pydantic import BaseModel

from pbx_sms.config import Settings
from pbx_sms.gateways.base import Gateway, GatewayConfigError
from pbx_sms.gateways.redaction import RedactingGateway, gateway_redactor
from pbx_sms.gateways.section import load_section
from pbx_sms.logs import redact_in_logs

ENTRY_POINT_GROUP = "pbx_sms.gateways"

ConfigT = TypeVar("ConfigT", bound=BaseModel)
GatewayT = TypeVar("GatewayT", bound=Gateway)


@dataclass(frozen=True, slots=True)
class GatewayPlugin(Generic[ConfigT, GatewayT]):
    """A gateway factory that declares its settings: ``section_*`` names, validated by ``settings_model``."""

    # The settings' prefix: "smsapi" reads PBX_SMS_SMSAPI_* and the TOML table [smsapi].
    section: str
    settings_model: type[ConfigT]
    # Builds the gateway from its validated settings (and the others, e.g. the listener's AMI host).
    build: Callable[[ConfigT, Settings], GatewayT]

    def __call__(self, settings: Settings) -> GatewayT:
        return self.build(self.load(settings), settings)

    def load(self, settings: Settings) -> ConfigT:
        """The validated settings (raises GatewayConfigError naming the setting)."""
        return load_section(settings, self.section, self.settings_model)


def _entry_points() -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}


def available_gateways() -> list[str]:
    return sorted(_entry_points())


def create_gateway(settings: Settings) -> RedactingGateway:
    """The gateway named by ``PBX_SMS_GATEWAY``, configured from its own settings, its results and the
    process's log lines redacted of every configured secret."""
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
    gateway: Gateway = factory(settings)
    if isinstance(factory, GatewayPlugin):
        redactor = gateway_redactor(settings, factory.section, factory.load(settings))
    else:
        redactor = gateway_redactor(settings, settings.gateway, None)
    redact_in_logs(redactor)
    return RedactingGateway(gateway, redactor)
