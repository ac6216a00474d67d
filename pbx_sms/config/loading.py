"""load_settings: the TOML file (if any), then the environment, which wins."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from pbx_sms.config.errors import ConfigError, describe_error
from pbx_sms.config.models import Settings
from pbx_sms.config.sources import (
    CONFIG_ENV,
    FlatNamesSource,
    Location,
    environment_entries,
    reading,
    toml_entries,
)


def load_settings(config_path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the file ``config_path`` (default: ``$PBX_SMS_CONFIG``, else none) and ``environ``."""
    env = os.environ if environ is None else environ
    path = config_path or env.get(CONFIG_ENV)
    sources = [FlatNamesSource(Settings, environment_entries(env))]
    if path:
        sources.append(FlatNamesSource(Settings, toml_entries(Path(path))))
    origins: dict[Location, str] = {}
    for source in reversed(sources):
        origins.update(source.origins)
    try:
        with reading(tuple(sources)):
            return Settings()
    except ValidationError as exc:
        problems = [
            f"{_origin(error['loc'], origins)}: {describe_error(error)}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None


def _origin(loc: Location, origins: Mapping[Location, str]) -> str:
    # A gateway's raw setting fails one level below the name it was read by (its value).
    for end in range(len(loc), 0, -1):
        if loc[:end] in origins:
            return origins[loc[:end]]
    return "setting " + ".".join(map(str, loc))
