"""Where settings come from: the environment and a TOML file, read by their flat names.

Each value remembers its source, so an error can say "environment variable PBX_SMS_OUTBOX_LEASE_S"
or "[outbox] lease_s in /etc/pbx-sms/pbx-sms.toml" instead of a path inside the models.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from pbx_sms.config.errors import ConfigError
from pbx_sms.config.names import ENV_PREFIX, GATEWAY_SETTINGS, settings_path

CONFIG_ENV = "PBX_SMS_CONFIG"

Location = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    flat: str
    value: Any
    source: str


def environment_entries(environ: Mapping[str, str]) -> list[Entry]:
    return [
        Entry(name.removeprefix(ENV_PREFIX).lower(), value, f"environment variable {name}")
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX) and name != CONFIG_ENV
    ]


def toml_entries(path: Path) -> list[Entry]:
    """Flat keys, and keys one table deep (``[ami] host`` is ``ami_host``)."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 text ({exc.reason})") from exc
    except (OSError, ValueError) as exc:  # a directory, no permission, a name too long or with a NUL in it
        raise ConfigError(f"{path}: cannot read the config file: {getattr(exc, 'strerror', None) or exc}") from exc
    entries = []
    for key, value in document.items():
        if not isinstance(value, Mapping):
            entries.append(Entry(key.lower(), value, f"{key} in {path}"))
            continue
        for sub_key, sub_value in value.items():
            if isinstance(sub_value, Mapping):
                raise ConfigError(f"{path}: [{key}.{sub_key}]: tables nest one level deep at most")
            entries.append(Entry(f"{key}_{sub_key}".lower(), sub_value, f"[{key}] {sub_key} in {path}"))
    return entries


class FlatNamesSource(PydanticBaseSettingsSource):
    """One source's flat names as Settings' nested values; names no model declares go to the gateways."""

    def __init__(self, settings_cls: type[BaseSettings], entries: Iterable[Entry]) -> None:
        super().__init__(settings_cls)
        self.values: dict[str, Any] = {}
        self.origins: dict[Location, str] = {}
        for entry in entries:
            path = settings_path(entry.flat)
            value = {"value": entry.value, "source": entry.source} if path[0] == GATEWAY_SETTINGS else entry.value
            node = self.values
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
            self.origins[path] = entry.source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ builds all values at once, since names do not map one-to-one to fields.
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.values


_ACTIVE: ContextVar[tuple[FlatNamesSource, ...]] = ContextVar("pbx_sms_settings_sources", default=())


def active_sources() -> tuple[FlatNamesSource, ...]:
    """The sources of the load_settings call in progress, highest priority first."""
    return _ACTIVE.get()


@contextmanager
def reading(sources: tuple[FlatNamesSource, ...]) -> Iterator[None]:
    token = _ACTIVE.set(sources)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
