"""Settings: a TOML file overridden by flat ``PBX_SMS_*`` environment variables.

TOML keys may be flat (``ami_host = "..."``) or one table deep (``[ami] host = "..."``);
both become the flat name ``ami_host``, the same name as the environment variable without
its ``PBX_SMS_`` prefix.  Settings that no field here declares (a third-party gateway's,
say) are kept in ``extra`` for whoever owns them.  Secret values never appear in errors.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_PREFIX = "PBX_SMS_"
CONFIG_ENV = "PBX_SMS_CONFIG"
SECRET_SUFFIXES = ("secret", "token", "password", "api_key", "auth_token")


class ConfigError(Exception):
    """Invalid configuration; the message names the source and the key, never a secret."""


def is_secret_key(key: str) -> bool:
    return key.lower().endswith(SECRET_SUFFIXES)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = "sqlite:///pbx-sms.db"

    # False for installs that feed calls only through the AGI hangup hook.
    ami_enabled: bool = True
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "pbx-sms"
    ami_secret: SecretStr = SecretStr("")
    ami_ping_interval_s: float = Field(20.0, gt=0)
    ami_ping_timeout_s: float = Field(5.0, gt=0)
    ami_reconnect_min_s: float = Field(0.5, gt=0)
    ami_reconnect_max_s: float = Field(60.0, gt=0)

    gateway: str = "log"
    timezone: str = "Europe/Warsaw"
    country: str = "PL"

    # Call tracking (see pbx_sms.ami): how calls are recognised without the PBXSMS_* variables.
    cdr_grace_s: float = Field(0.5, ge=0)
    inbound_contexts: tuple[str, ...] = ("from-trunk", "from-pstn")
    outbound_contexts: tuple[str, ...] = ("from-internal",)
    internal_max_digits: int = Field(5, ge=1, le=15)
    max_open_calls: int = Field(10_000, ge=1)
    max_call_age_s: float = Field(6 * 3600, gt=0)

    log_format: str = Field("text", pattern="^(text|json)$")
    log_level: str = "INFO"

    # Settings of gateways and plugins, flat names without the prefix (e.g. "http_url").
    extra: dict[str, str] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (expected an IANA name like Europe/Warsaw)") from exc
        return value

    @field_validator("country")
    @classmethod
    def _country_code(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("expected a two-letter ISO country code like PL")
        return value.upper()

    @field_validator("inbound_contexts", "outbound_contexts", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def section(self, prefix: str) -> dict[str, str]:
        """The extra settings that start with ``prefix_``, with the prefix removed."""
        head = prefix.lower() + "_"
        return {key[len(head) :]: value for key, value in self.extra.items() if key.startswith(head)}

    def redacted(self) -> dict[str, Any]:
        """All settings as plain values, secrets replaced by ``***`` (for status/debug output)."""
        data = self.model_dump(exclude={"extra"})
        data.update(self.extra)
        return {key: ("***" if is_secret_key(key) and value else _plain(value)) for key, value in data.items()}


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _flatten(table: Mapping[str, Any], source: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            for sub_key, sub_value in value.items():
                if isinstance(sub_value, Mapping):
                    raise ConfigError(f"{source}: [{key}.{sub_key}]: tables nest one level deep at most")
                flat[f"{key}_{sub_key}".lower()] = sub_value
        else:
            flat[key.lower()] = value
    return flat


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return _flatten(tomllib.load(handle), str(path))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def load_settings(config_path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the TOML file (if any) and then the environment, which wins."""
    env = os.environ if environ is None else environ
    path = config_path or env.get(CONFIG_ENV)
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if path:
        for key, value in _read_toml(Path(path)).items():
            values[key] = value
            origin[key] = f"{path}: key {key!r}"
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and name != CONFIG_ENV:
            key = name[len(ENV_PREFIX) :].lower()
            values[key] = value
            origin[key] = f"environment variable {name}"
    known = set(Settings.model_fields) - {"extra"}
    extra = {key: str(value) for key, value in values.items() if key not in known}
    fields = {key: value for key, value in values.items() if key in known}
    try:
        return Settings(**fields, extra=extra)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            key = str(error["loc"][0]) if error["loc"] else "?"
            where = origin.get(key, f"setting {key!r}")
            problems.append(f"{where}: {error['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None
