"""Settings: a TOML file overridden by flat ``PBX_SMS_*`` environment variables, as nested typed models.

TOML keys may be flat (``ami_host = "..."``) or one table deep (``[ami] host = "..."``); both are
the flat name ``ami_host``, the environment variable without its ``PBX_SMS_`` prefix
(pbx_sms.config.names maps each name to its model).  Settings no model here declares (a gateway's,
a third-party plug-in's) are kept in ``Settings.gateway_settings`` for the gateway registry, which
validates them with the gateway's own model.  Secret values never appear in errors or output.
"""

from pbx_sms.config.errors import ConfigError, describe_error
from pbx_sms.config.loading import load_settings
from pbx_sms.config.models import (
    AmiSettings,
    FastAgiSettings,
    LoggingSettings,
    MetricsSettings,
    OutboxSettings,
    RawSetting,
    Settings,
    TrackingSettings,
    WebSettings,
    is_secret_key,
)
from pbx_sms.config.names import ENV_PREFIX, variable_name
from pbx_sms.config.sources import CONFIG_ENV

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "AmiSettings",
    "ConfigError",
    "FastAgiSettings",
    "LoggingSettings",
    "MetricsSettings",
    "OutboxSettings",
    "RawSetting",
    "Settings",
    "TrackingSettings",
    "WebSettings",
    "describe_error",
    "is_secret_key",
    "load_settings",
    "variable_name",
]
