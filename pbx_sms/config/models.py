"""The settings as nested, typed models; secrets are ``SecretStr`` and never shown."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from functools import reduce
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from pbx_sms.config.names import SETTING_PATHS
from pbx_sms.config.sources import active_sources
from pbx_sms.core.optout_keywords import DEFAULT_OPTOUT_KEYWORDS
from pbx_sms.core.phone import check_country_code
from pbx_sms.core.timezones import validate_timezone

# The digits an extension dials before an outside number.
OUTBOUND_PREFIX = re.compile(r"[0-9]{0,4}")
FASTAGI_SECRET = re.compile(r"[A-Za-z0-9._~-]{16,128}")
# A browser origin as the Origin header sends it: no path, no trailing slash, no wildcard.
WEB_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
# The address providers are told and sign: an origin and an optional path prefix (a reverse proxy's).
WEB_PUBLIC_URL = re.compile(r"(?P<origin>https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)(?P<prefix>(/[A-Za-z0-9._~-]+)*)/?")
HOOK_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")
SECRET_SUFFIXES = ("secret", "token", "password", "api_key", "auth_token")

# A gateway's setting as read: TOML gives scalars (or lists of them), the environment strings.
RawValue = str | bool | int | float | list[str | bool | int | float]


def is_secret_key(key: str) -> bool:
    """Whether a setting nobody typed here (a gateway's) is shown as ``***``, judged by its name."""
    return key.lower().endswith(SECRET_SUFFIXES)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmiSettings(_Section):
    """The AMI listener's connection; its user only reads (the ami gateway logs in as another)."""

    # False for installs that feed calls only through the AGI hangup hook.
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = "pbx-sms"
    secret: SecretStr = SecretStr("")
    ping_interval_s: float = Field(20.0, gt=0)
    ping_timeout_s: float = Field(5.0, gt=0)
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)


class FastAgiSettings(_Section):
    """The daemon's FastAGI server for the dialplan's hangup hook (pbx_sms.fastagi).

    FastAGI has no authentication, and a forged hangup report is an SMS sent where the forger wants:
    beyond loopback it needs the source networks allowed and a shared secret in the agi:// path.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    # 0: a free port chosen at start-up (tests).
    port: int = Field(4573, ge=0, le=65535)
    # Empty: loopback peers only.
    allow: tuple[IPvAnyNetwork, ...] = ()
    secret: SecretStr = SecretStr("")

    @field_validator("allow", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list | tuple):
            for part in value:
                try:
                    ipaddress.ip_network(str(part))
                except ValueError:
                    raise ValueError(
                        f"{str(part)[:50]!r} is not a network: expected addresses or networks like "
                        "192.0.2.7, 10.0.0.0/8, fd00::/8 (host bits zero), separated by commas"
                    ) from None
        return value

    @field_validator("secret")
    @classmethod
    def _secret_fits_a_path(cls, value: SecretStr) -> SecretStr:
        # It travels in the dialplan's agi:// URL: a "/" or "," would cut it, a short one is guessed.
        if value.get_secret_value() and not FASTAGI_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("expected 16 to 128 letters, digits or - . _ ~ (e.g. from `openssl rand -hex 16`)")
        return value

    @model_validator(mode="after")
    def _wide_listening_needs_allow_and_secret(self) -> FastAgiSettings:
        if not self.enabled or is_loopback_host(self.host):
            return self
        missing = [
            name
            for name, value in (("PBX_SMS_FASTAGI_ALLOW", self.allow), ("PBX_SMS_FASTAGI_SECRET", self.secret))
            if not value
        ]
        if missing:
            raise ValueError(
                f"FastAGI host {self.host!r} is not a loopback address: listening there needs "
                f"{' and '.join(missing)} (the source networks and the shared secret of the agi:// path), "
                "or PBX_SMS_FASTAGI_HOST=127.0.0.1"
            )
        return self


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names only this machine (a name other than localhost may resolve anywhere)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TrackingSettings(_Section):
    """How calls are recognised (see pbx_sms.ami) without the PBXSMS_* channel variables."""

    cdr_grace_s: float = Field(0.5, ge=0)
    # How long a call only the hangup hook reported waits for the AMI tracker's (better) view before its
    # SMS are planned, while AMI is connected; bounded so a lost view cannot hold a call for long.
    hook_wait_s: float = Field(3.0, ge=0, le=60)
    inbound_contexts: tuple[str, ...] = ("from-trunk", "from-pstn")
    outbound_contexts: tuple[str, ...] = ("from-internal",)
    internal_max_digits: int = Field(5, ge=1, le=15)
    # The digits an extension dials before an outside number (the dialplan strips them):
    # taken off the dialled number when the dialplan does not set PBXSMS_OTHER.
    outbound_prefix: str = ""
    max_open_calls: int = Field(10_000, ge=1)
    max_call_age_s: float = Field(6 * 3600, gt=0)
    # Channels (legs) tracked per call; more (a queue retrying for hours, a forged stream) are not
    # tracked, so one call's state and per-event work stay bounded.
    max_channels_per_call: int = Field(5_000, ge=2)

    @field_validator("inbound_contexts", "outbound_contexts", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("outbound_prefix")
    @classmethod
    def _prefix_digits(cls, value: str) -> str:
        value = value.strip()
        if not OUTBOUND_PREFIX.fullmatch(value):
            raise ValueError("expected at most 4 digits")
        return value


class OutboxSettings(_Section):
    """Worker tuning; None (unset) leaves the worker's own default (pbx_sms.outbox.config)."""

    max_in_flight: int | None = Field(None, gt=0)
    claim_batch: int | None = Field(None, gt=0)
    claim_interval_s: float | None = Field(None, gt=0)
    poll_s: float | None = Field(None, gt=0)
    lease_s: float | None = Field(None, gt=0)
    flush_interval_s: float | None = Field(None, gt=0)
    retry_base_s: float | None = Field(None, gt=0)
    retry_max_s: float | None = Field(None, gt=0)
    retry_max_attempts: int | None = Field(None, gt=0)
    retry_max_age_s: float | None = Field(None, gt=0)


class MetricsSettings(_Section):
    """The daemon's HTTP endpoint for Prometheus (/metrics) and health checks (/health)."""

    enabled: bool = True
    # Loopback by default: the metrics name no secret, but they are the PBX's traffic figures.
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=1, le=65535)
    # /health fails once the AMI connection has been down (or never up) this long.
    health_ami_down_max_s: float = Field(120.0, gt=0)


class WebSettings(_Section):
    """`pbx-sms web`: browser sessions end after this long without a request, and this long after login."""

    session_idle_s: float = Field(30 * 60, gt=0)
    session_max_s: float = Field(12 * 3600, gt=0)
    # True behind HTTPS: the browser then sends the session cookie over HTTPS only.
    cookie_secure: bool = False
    # Loopback by default: put a reverse proxy with HTTPS in front for other hosts.
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # A request body longer than this is refused (413) before it is read whole.
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    # Empty: no cross-origin requests (no CORS headers at all).
    cors_origins: tuple[str, ...] = ()
    # Where providers reach /hooks/... from outside (behind a reverse proxy it differs from host:port);
    # callback URLs handed to providers and the URLs they sign are built from it. Empty: no callbacks.
    public_url: str = ""
    # The secret path segment of the callbacks that carry no signature (SMSAPI's reports and replies):
    # /hooks/smsapi/TOKEN/... Empty: those callbacks are off (404).
    hook_token: SecretStr = SecretStr("")
    # Callbacks are small forms or JSON: a longer body is refused (413) before it is read whole.
    hook_max_body_bytes: int = Field(64 * 1024, gt=0)
    # GET /metrics (delivery figures for Prometheus, operators only); False: the route is not there (404).
    metrics_enabled: bool = True

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not WEB_PUBLIC_URL.fullmatch(value):
            raise ValueError(
                f"{value[:80]!r} is not a public address: expected scheme://host[:port][/prefix] with no "
                "query (https://pbx.example.com or https://example.com/sms)"
            )
        return value.rstrip("/")

    @field_validator("hook_token")
    @classmethod
    def _hook_token(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret and not HOOK_TOKEN.fullmatch(secret):
            raise ValueError(
                "expected 32 to 128 letters, digits, '-' or '_' (make one with: "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list | tuple):
            for part in value:
                if not isinstance(part, str) or not WEB_ORIGIN.fullmatch(part):
                    raise ValueError(
                        f"{str(part)[:50]!r} is not an origin: expected scheme://host[:port] with no path "
                        "(https://panel.example.com), separated by commas"
                    )
        return value


class ReplySettings(_Section):
    """Replies to sent SMS (the providers' inbound webhooks): which whole texts opt the number out,
    and the text confirming it (empty: none is sent)."""

    optout_keywords: tuple[str, ...] = DEFAULT_OPTOUT_KEYWORDS
    optout_confirmation: str = Field("", max_length=480)

    @field_validator("optout_keywords", mode="before")
    @classmethod
    def _keywords(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list | tuple) and not value:
            raise ValueError("expected at least one keyword, separated by commas (STOP, NIE)")
        return value


class LoggingSettings(_Section):
    format: Literal["text", "json"] = "text"
    level: str = "INFO"


class RawSetting(BaseModel):
    """A setting no model here declares (a gateway's), kept as read for the gateway's own model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: RawValue = Field(repr=False)
    # Where it was read, for errors: "environment variable PBX_SMS_HTTP_URL", "[http] url in FILE".
    source: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    database_url: str = "sqlite:///pbx-sms.db"
    gateway: str = "log"
    timezone: str = "Europe/Warsaw"
    country: str = "PL"
    # Which PBX this daemon serves: calls are known by (pbx_name, Linkedid), as two Asterisk servers
    # sharing one database can produce the same Linkedid.
    pbx_name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=100)
    ami: AmiSettings = Field(default_factory=AmiSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    fastagi: FastAgiSettings = Field(default_factory=FastAgiSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    replies: ReplySettings = Field(default_factory=ReplySettings)
    # By flat name ("http_url", "ami_send_secret"); the registry validates the chosen gateway's.
    gateway_settings: Mapping[str, RawSetting] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only load_settings reads the environment and the file: Settings(...) alone is defaults
        # and its arguments, so a test never picks up the shell's PBX_SMS_* variables.
        return (init_settings, *active_sources())

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("country")
    @classmethod
    def _country_code(cls, value: str) -> str:
        return check_country_code(value)

    def section(self, prefix: str) -> dict[str, str]:
        """A gateway's settings as text, ``prefix_`` removed (for plug-ins without a settings model)."""
        head = prefix.lower() + "_"
        return {
            key.removeprefix(head): str(raw.value) for key, raw in self.gateway_settings.items() if key.startswith(head)
        }

    def redacted(self) -> dict[str, Any]:
        """Every setting by its flat name, secrets replaced by ``***`` (for status/debug output)."""
        shown: dict[str, Any] = {}
        for flat, path in SETTING_PATHS.items():
            value: Any = reduce(getattr, path, self)
            if isinstance(value, SecretStr):
                value = "***" if value.get_secret_value() else ""
            shown[flat] = value
        for flat, raw in self.gateway_settings.items():
            shown[flat] = "***" if is_secret_key(flat) and raw.value else raw.value
        return shown
