"""The flat setting names operators write, and where each one lives in the nested Settings.

A name is ``PBX_SMS_<NAME>`` in the environment and ``name = …`` (or ``[table] rest = …`` for
``table_rest``) in the TOML file.  The names grew flat and follow no single nesting: ``ami_*``
belongs to the listener but ``ami_send_*`` to the ami gateway, ``log_format`` to logging but
``log_path`` to the log gateway, and the call-tracking names share no prefix.  So each name is
listed here; a name not listed (nor under an owned prefix) is a gateway's and is kept for it.
"""

from __future__ import annotations

ENV_PREFIX = "PBX_SMS_"

SETTING_PATHS: dict[str, tuple[str, ...]] = {
    "database_url": ("database_url",),
    "gateway": ("gateway",),
    "timezone": ("timezone",),
    "country": ("country",),
    "pbx_name": ("pbx_name",),
    "ami_enabled": ("ami", "enabled"),
    "ami_host": ("ami", "host"),
    "ami_port": ("ami", "port"),
    "ami_username": ("ami", "username"),
    "ami_secret": ("ami", "secret"),
    "ami_ping_interval_s": ("ami", "ping_interval_s"),
    "ami_ping_timeout_s": ("ami", "ping_timeout_s"),
    "ami_reconnect_min_s": ("ami", "reconnect_min_s"),
    "ami_reconnect_max_s": ("ami", "reconnect_max_s"),
    "cdr_grace_s": ("tracking", "cdr_grace_s"),
    "hook_wait_s": ("tracking", "hook_wait_s"),
    "inbound_contexts": ("tracking", "inbound_contexts"),
    "outbound_contexts": ("tracking", "outbound_contexts"),
    "internal_max_digits": ("tracking", "internal_max_digits"),
    "outbound_prefix": ("tracking", "outbound_prefix"),
    "max_open_calls": ("tracking", "max_open_calls"),
    "max_call_age_s": ("tracking", "max_call_age_s"),
    "max_channels_per_call": ("tracking", "max_channels_per_call"),
    "log_format": ("logging", "format"),
    "log_level": ("logging", "level"),
    "metrics_enabled": ("metrics", "enabled"),
    "metrics_host": ("metrics", "host"),
    "metrics_port": ("metrics", "port"),
    "health_ami_down_max_s": ("metrics", "health_ami_down_max_s"),
    "fastagi_enabled": ("fastagi", "enabled"),
    "fastagi_host": ("fastagi", "host"),
    "fastagi_port": ("fastagi", "port"),
    "fastagi_allow": ("fastagi", "allow"),
    "fastagi_secret": ("fastagi", "secret"),
    "outbox_max_in_flight": ("outbox", "max_in_flight"),
    "outbox_claim_batch": ("outbox", "claim_batch"),
    "outbox_claim_interval_s": ("outbox", "claim_interval_s"),
    "outbox_poll_s": ("outbox", "poll_s"),
    "outbox_lease_s": ("outbox", "lease_s"),
    "outbox_flush_interval_s": ("outbox", "flush_interval_s"),
    "outbox_retry_base_s": ("outbox", "retry_base_s"),
    "outbox_retry_max_s": ("outbox", "retry_max_s"),
    "outbox_retry_max_attempts": ("outbox", "retry_max_attempts"),
    "outbox_retry_max_age_s": ("outbox", "retry_max_age_s"),
    "web_session_idle_s": ("web", "session_idle_s"),
    "web_session_max_s": ("web", "session_max_s"),
    "web_cookie_secure": ("web", "cookie_secure"),
    "web_host": ("web", "host"),
    "web_port": ("web", "port"),
    "web_max_body_bytes": ("web", "max_body_bytes"),
    "web_cors_origins": ("web", "cors_origins"),
    "web_public_url": ("web", "public_url"),
    "web_hook_token": ("web", "hook_token"),
    "web_hook_max_body_bytes": ("web", "hook_max_body_bytes"),
    "web_metrics_enabled": ("web", "metrics_enabled"),
    "optout_keywords": ("replies", "optout_keywords"),
    "optout_confirmation": ("replies", "optout_confirmation"),
}

# Every name under these prefixes belongs to one model, so a misspelt one is an error there
# instead of a gateway's setting that nobody reads.
OWNED_PREFIXES: dict[str, str] = {"outbox_": "outbox", "web_": "web"}

# Where the settings no model here declares go, by flat name, for the gateway that owns them.
GATEWAY_SETTINGS = "gateway_settings"


def variable_name(flat: str) -> str:
    return f"{ENV_PREFIX}{flat}".upper()


def settings_path(flat: str) -> tuple[str, ...]:
    """Where the setting ``flat`` goes in Settings' nested values."""
    path = SETTING_PATHS.get(flat)
    if path is not None:
        return path
    for prefix, model in OWNED_PREFIXES.items():
        if flat.startswith(prefix):
            return (model, flat.removeprefix(prefix))
    return (GATEWAY_SETTINGS, flat)
