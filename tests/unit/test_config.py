from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import reduce
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pytest
from carrier_gateway import CarrierGateway, PigeonGateway
from paths import ROOT
from pydantic import BaseModel, SecretStr
from setting_samples import GATEWAY_REQUIRED, SAMPLES

from pbx_sms.config import (
    AmiSettings,
    ConfigError,
    LoggingSettings,
    OutboxSettings,
    Settings,
    TrackingSettings,
    load_settings,
    variable_name,
)
from pbx_sms.config.names import ENV_PREFIX, SETTING_PATHS
from pbx_sms.gateways import registry
from pbx_sms.gateways.base import GatewayConfigError
from pbx_sms.gateways.registry import ENTRY_POINT_GROUP, GatewayPlugin, create_gateway
from pbx_sms.gateways.section import load_section

# PBX_SMS_* names in the documentation that are not settings.
NOT_SETTINGS = {
    "PBX_SMS_CONFIG",  # names the TOML file itself
    "PBX_SMS_TEST_POSTGRES_URL",  # the test suite's database
}
DOCUMENTS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "deploy").glob("*.env.example")),
]
# A whole name: not a prefix such as PBX_SMS_OUTBOX_* or PBX_SMS_AMI_SEND_, nor a PBX_SMS_<KEY> pattern.
NAME_PATTERN = re.compile(r"PBX_SMS_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_*<])")


def builtin_plugins() -> dict[str, GatewayPlugin[Any, Any]]:
    plugins = {entry.name: entry.load() for entry in entry_points(group=ENTRY_POINT_GROUP)}
    assert all(isinstance(plugin, GatewayPlugin) for plugin in plugins.values())
    return plugins


def gateway_names() -> dict[str, tuple[GatewayPlugin[Any, Any], str]]:
    """Every built-in gateway's setting name → (its plugin, the key in its model)."""
    names = {}
    for plugin in builtin_plugins().values():
        for field_name, field in plugin.settings_model.model_fields.items():
            key = field.alias or field_name
            names[variable_name(f"{plugin.section}_{key}")] = (plugin, key)
    return names


def documented_names() -> set[str]:
    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCUMENTS)
    return set(NAME_PATTERN.findall(text)) - NOT_SETTINGS


def all_names() -> list[str]:
    return sorted(documented_names() | {variable_name(flat) for flat in SETTING_PATHS} | set(gateway_names()))


def flat(name: str) -> str:
    return name.removeprefix(ENV_PREFIX).lower()


def gateway_environ(name: str) -> dict[str, str]:
    """What the gateway that owns ``name`` needs besides it (nothing for the core settings)."""
    if name not in gateway_names():
        return {}
    section = gateway_names()[name][0].section
    required = {variable_name(f"{section}_{key}"): value for key, value in GATEWAY_REQUIRED[section].items()}
    required.pop(name, None)
    return required


def read_back(settings: Settings, name: str) -> Any:
    """The value the setting ``name`` ended up as: in Settings, or in its gateway's validated model."""
    if flat(name) in SETTING_PATHS:
        value = reduce(getattr, SETTING_PATHS[flat(name)], settings)
    else:
        plugin, key = gateway_names()[name]
        model = load_section(settings, plugin.section, plugin.settings_model)
        value = model.model_dump(by_alias=True)[key]
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def toml_spellings(key: str) -> Iterator[str]:
    """``a_b_c = …``, and each way of writing it one table deep: ``[a] b_c``, ``[a_b] c``."""
    yield key
    parts = key.split("_")
    for cut in range(1, len(parts)):
        yield f"[{'_'.join(parts[:cut])}]\n{'_'.join(parts[cut:])}"


# --- loading -----------------------------------------------------------------------------------


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(environ={})
    assert settings.database_url == "sqlite:///pbx-sms.db"
    assert (settings.ami.host, settings.ami.port, settings.ami.enabled) == ("127.0.0.1", 5038, True)
    assert (settings.gateway, settings.timezone, settings.country) == ("log", "Europe/Warsaw", "PL")
    assert settings.tracking == TrackingSettings()
    assert settings.outbox == OutboxSettings()
    assert settings.logging == LoggingSettings(format="text", level="INFO")
    assert settings.gateway_settings == {}


def test_settings_alone_are_defaults_and_arguments_not_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PBX_SMS_CONFIG", raising=False)
    monkeypatch.setenv("PBX_SMS_AMI_PORT", "6000")
    assert Settings(ami=AmiSettings(host="pbx.example")).ami.port == 5038
    assert load_settings(environ=None).ami.port == 6000


def test_environment_overrides_toml(tmp_path: Path) -> None:
    config = tmp_path / "pbx-sms.toml"
    config.write_text('gateway = "http"\ncountry = "de"\nami_port = 5040\n[ami]\nhost = "10.0.0.5"\nport = 5039\n')
    settings = load_settings(config, environ={"PBX_SMS_AMI_PORT": "6000", "PBX_SMS_GATEWAY": "log"})
    assert (settings.gateway, settings.country) == ("log", "DE")
    assert (settings.ami.host, settings.ami.port) == ("10.0.0.5", 6000)


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('timezone = "UTC"\n')
    assert load_settings(environ={"PBX_SMS_CONFIG": str(config)}).timezone == "UTC"


def test_settings_no_model_declares_are_kept_for_the_gateways(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[http]\nurl = "http://127.0.0.1:9/send"\ntimeout_s = 3\n')
    settings = load_settings(config, environ={"PBX_SMS_HTTP_TOKEN": "t0k3n"})
    assert settings.section("http") == {"url": "http://127.0.0.1:9/send", "timeout_s": "3", "token": "t0k3n"}
    assert settings.gateway_settings["http_timeout_s"].value == 3
    assert settings.gateway_settings["http_token"].source == "environment variable PBX_SMS_HTTP_TOKEN"
    assert settings.gateway_settings["http_url"].source == f"[http] url in {config}"


def test_context_lists_accept_comma_strings_and_toml_arrays(tmp_path: Path) -> None:
    settings = load_settings(environ={"PBX_SMS_INBOUND_CONTEXTS": "from-trunk, from-sip ,"})
    assert settings.tracking.inbound_contexts == ("from-trunk", "from-sip")
    config = tmp_path / "c.toml"
    config.write_text('outbound_contexts = ["from-office", "from-lab"]\n')
    assert load_settings(config, environ={}).tracking.outbound_contexts == ("from-office", "from-lab")


@pytest.mark.parametrize("prefix", ["9a", "00000", "+"])
def test_the_outbound_prefix_is_a_few_digits(prefix: str) -> None:
    assert load_settings(environ={"PBX_SMS_OUTBOUND_PREFIX": " 00 "}).tracking.outbound_prefix == "00"
    with pytest.raises(ConfigError) as excinfo:
        load_settings(environ={"PBX_SMS_OUTBOUND_PREFIX": prefix})
    assert "PBX_SMS_OUTBOUND_PREFIX: expected at most 4 digits" in str(excinfo.value)
    assert prefix not in str(excinfo.value).replace("PBX_SMS_OUTBOUND_PREFIX", "")


# --- every name --------------------------------------------------------------------------------


def test_the_name_table_covers_every_field_once() -> None:
    def fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
        found = set()
        for name, field in model.model_fields.items():
            if name == "gateway_settings":
                continue
            nested = field.annotation
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                found |= fields(nested, (*prefix, name))
            else:
                found.add((*prefix, name))
        return found

    assert sorted(SETTING_PATHS.values()) == sorted(fields(Settings))


def test_every_setting_is_documented_and_every_documented_name_is_a_setting() -> None:
    known = {variable_name(flat) for flat in SETTING_PATHS} | set(gateway_names())
    assert sorted(documented_names() - known) == [], "documented, but no setting has this name"
    assert sorted(known - documented_names()) == [], "a setting missing from README.md or docs/*.md"


def test_every_name_has_a_sample() -> None:
    assert sorted(set(all_names()) - set(SAMPLES)) == [], "add a sample value to tests/setting_samples.py"


@pytest.mark.parametrize("name", all_names())
def test_every_name_is_read_from_the_environment(name: str) -> None:
    text, expected = SAMPLES[name]
    settings = load_settings(environ={**gateway_environ(name), name: text})
    assert read_back(settings, name) == expected


@pytest.mark.parametrize("name", all_names())
def test_every_name_is_read_from_toml_flat_and_one_table_deep(name: str, tmp_path: Path) -> None:
    text, expected = SAMPLES[name]
    config = tmp_path / "pbx-sms.toml"
    for spelling in toml_spellings(flat(name)):
        config.write_text(f"{spelling} = {json.dumps(text)}\n")
        settings = load_settings(config, environ=gateway_environ(name))
        assert read_back(settings, name) == expected, spelling


# --- errors ------------------------------------------------------------------------------------


def test_an_invalid_value_names_its_source_and_what_was_expected(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('timezone = "Mars/Olympus"\n[outbox]\nlease_s = "soon"\n[ami]\nport = 70000\n')
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, environ={"PBX_SMS_OUTBOX_POLL_S": "0", "PBX_SMS_LOG_FORMAT": "xml"})
    problems = str(excinfo.value).splitlines()[1:]
    assert sorted(line.strip() for line in problems) == [
        f"[ami] port in {config}: expected at most 65535",
        f"[outbox] lease_s in {config}: expected a number",
        "environment variable PBX_SMS_LOG_FORMAT: Input should be 'text' or 'json'",
        "environment variable PBX_SMS_OUTBOX_POLL_S: expected more than 0",
        f"timezone in {config}: unknown time zone 'Mars/Olympus' (expected an IANA name like Europe/Warsaw)",
    ]


def test_the_readme_examples_of_errors_are_what_load_settings_says(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as from_environment:
        load_settings(environ={"PBX_SMS_OUTBOX_LEASE_S": "0"})
    problem = str(from_environment.value).splitlines()[1].strip()
    assert problem == "environment variable PBX_SMS_OUTBOX_LEASE_S: expected more than 0" and problem in readme
    config = tmp_path / "pbx-sms.toml"
    config.write_text('[outbox]\nlease_s = "a while"\n')
    with pytest.raises(ConfigError) as from_file:
        load_settings(config, environ={})
    problem = str(from_file.value).splitlines()[1].strip()
    assert problem == f"[outbox] lease_s in {config}: expected a number"
    assert problem.replace(str(config), "/etc/pbx-sms/pbx-sms.toml") in readme


def test_the_environment_wins_also_in_errors(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("ami_port = 5039\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, environ={"PBX_SMS_AMI_PORT": "seventy"})
    assert "environment variable PBX_SMS_AMI_PORT: expected a whole number" in str(excinfo.value)
    assert str(config) not in str(excinfo.value)


def test_a_misspelt_outbox_setting_is_an_error_not_a_gateway_setting(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[outbox]\nmax_inflight = 5\n")
    with pytest.raises(ConfigError, match=rf"\[outbox\] max_inflight in {re.escape(str(config))}: unknown setting"):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match="environment variable PBX_SMS_OUTBOX_RETRY_ATTEMPTS: unknown setting"):
        load_settings(environ={"PBX_SMS_OUTBOX_RETRY_ATTEMPTS": "3"})


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[ami]\nsecret = 98765432123\n[http]\ntoken = 1979-05-27T07:32:00Z\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, environ={"PBX_SMS_AMI_PORT": "hunter2-very-secret"})
    message = str(excinfo.value)
    assert f"[ami] secret in {config}: Input should be a valid string" in message
    assert f"[http] token in {config}" in message and "environment variable PBX_SMS_AMI_PORT" in message
    for secret in ("98765432123", "1979", "hunter2"):
        assert secret not in message
    settings = load_settings(environ={"PBX_SMS_SMSAPI_TOKEN": "tok-123", "PBX_SMS_SMSAPI_BASE_URL": "ftp://x"})
    with pytest.raises(GatewayConfigError) as gateway_error:
        load_section(settings, "smsapi", builtin_plugins()["smsapi"].settings_model)
    assert "environment variable PBX_SMS_SMSAPI_BASE_URL" in str(gateway_error.value)
    assert "tok-123" not in str(gateway_error.value)


def test_secrets_never_appear_in_redacted_output_or_repr() -> None:
    environ = {
        "PBX_SMS_AMI_SECRET": "hunter2-very-secret",
        "PBX_SMS_HTTP_TOKEN": "tok-123",
        "PBX_SMS_SMTP_PASSWORD": "pass-456",
        "PBX_SMS_HTTP_URL": "http://127.0.0.1:9/send",
    }
    settings = load_settings(environ=environ)
    shown = repr(settings) + str(settings) + str(settings.redacted())
    for secret in ("hunter2", "tok-123", "pass-456"):
        assert secret not in shown
    redacted = settings.redacted()
    assert (redacted["ami_secret"], redacted["http_token"], redacted["smtp_password"]) == ("***", "***", "***")
    assert (redacted["http_url"], redacted["ami_port"], redacted["outbox_lease_s"]) == (
        "http://127.0.0.1:9/send",
        5038,
        None,
    )
    assert load_settings(environ={}).redacted()["ami_secret"] == ""
    assert settings.ami.secret.get_secret_value() == "hunter2-very-secret"


def test_broken_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("gateway = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml: invalid TOML"):
        load_settings(config, environ={})


def test_tables_nest_one_level_at_most(tmp_path: Path) -> None:
    config = tmp_path / "deep.toml"
    config.write_text("[ami.send]\nsecret = 'x'\n")
    with pytest.raises(ConfigError, match=r"deep\.toml: \[ami\.send\]: tables nest one level deep at most"):
        load_settings(config, environ={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", environ={})


# --- third-party gateways ----------------------------------------------------------------------


@pytest.fixture
def third_party(monkeypatch: pytest.MonkeyPatch) -> None:
    """carrier (with a settings model) and pigeon (a plain factory) installed as plug-ins."""
    installed = list(entry_points(group=ENTRY_POINT_GROUP))
    plugins = [
        EntryPoint("carrier", "carrier_gateway:create", ENTRY_POINT_GROUP),
        EntryPoint("pigeon", "carrier_gateway:create_pigeon", ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: [*installed, *plugins])


@pytest.mark.usefixtures("third_party")
def test_a_plugin_with_a_settings_model_is_validated_like_the_builtin_gateways(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('gateway = "carrier"\n[carrier]\ntimeout_s = 4\n')
    gateway = create_gateway(load_settings(config, environ={"PBX_SMS_CARRIER_API_KEY": "key-789"}))
    assert isinstance(gateway.inner, CarrierGateway)
    assert (gateway.timeout_s, gateway.config.api_key.get_secret_value()) == (4.0, "key-789")
    assert "key-789" not in repr(gateway.config)

    with pytest.raises(GatewayConfigError) as missing:
        create_gateway(load_settings(config, environ={}))
    assert str(missing.value) == "carrier gateway: PBX_SMS_CARRIER_API_KEY: required"

    config.write_text('gateway = "carrier"\n[carrier]\ntimeout_s = "-1"\napi_kee = "x"\n')
    with pytest.raises(GatewayConfigError) as invalid:
        create_gateway(load_settings(config, environ={"PBX_SMS_CARRIER_API_KEY": "key-789"}))
    assert str(invalid.value) == (
        f"carrier gateway: [carrier] timeout_s in {config}: expected more than 0; "
        f"[carrier] api_kee in {config}: unknown setting"
    )
    assert "key-789" not in str(invalid.value)


@pytest.mark.usefixtures("third_party")
def test_a_plugin_without_a_settings_model_reads_its_section_as_text(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('gateway = "pigeon"\n[pigeon]\nloft = 7\n')
    gateway = create_gateway(load_settings(config, environ={"PBX_SMS_PIGEON_SEED_TOKEN": "grain"}))
    assert isinstance(gateway.inner, PigeonGateway)
    assert (gateway.loft, gateway.seed) == ("7", "grain")
    assert (
        load_settings(config, environ={"PBX_SMS_PIGEON_SEED_TOKEN": "grain"}).redacted()["pigeon_seed_token"] == "***"
    )
    with pytest.raises(GatewayConfigError, match="PBX_SMS_PIGEON_LOFT: required"):
        create_gateway(load_settings(environ={"PBX_SMS_GATEWAY": "pigeon"}))
