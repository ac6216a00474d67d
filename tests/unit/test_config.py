from __future__ import annotations

from pathlib import Path

import pytest

from pbx_sms.config import ConfigError, load_settings


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(environ={})
    assert settings.database_url == "sqlite:///pbx-sms.db"
    assert (settings.ami_host, settings.ami_port) == ("127.0.0.1", 5038)
    assert settings.gateway == "log"
    assert settings.timezone == "Europe/Warsaw"
    assert settings.country == "PL"


def test_environment_overrides_toml(tmp_path: Path) -> None:
    config = tmp_path / "pbx-sms.toml"
    config.write_text('gateway = "http"\ncountry = "de"\n[ami]\nhost = "10.0.0.5"\nport = 5039\n')
    settings = load_settings(config, environ={"PBX_SMS_AMI_PORT": "6000"})
    assert settings.gateway == "http"
    assert settings.country == "DE"
    assert settings.ami_host == "10.0.0.5"
    assert settings.ami_port == 6000


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('timezone = "UTC"\n')
    assert load_settings(environ={"PBX_SMS_CONFIG": str(config)}).timezone == "UTC"


def test_unknown_settings_are_kept_for_gateways(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[http]\nurl = "http://127.0.0.1:9/send"\n')
    settings = load_settings(config, environ={"PBX_SMS_HTTP_TOKEN": "t0k3n"})
    assert settings.section("http") == {"url": "http://127.0.0.1:9/send", "token": "t0k3n"}


def test_invalid_value_names_its_source(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('timezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config, environ={"PBX_SMS_AMI_PORT": "seventy"})
    message = str(excinfo.value)
    assert f"{config}: key 'timezone'" in message
    assert "unknown time zone" in message
    assert "environment variable PBX_SMS_AMI_PORT" in message


def test_secrets_never_appear_in_errors_or_redacted_output() -> None:
    environ = {"PBX_SMS_AMI_SECRET": "hunter2-very-secret", "PBX_SMS_HTTP_TOKEN": "tok-123", "PBX_SMS_AMI_PORT": "x"}
    with pytest.raises(ConfigError) as excinfo:
        load_settings(environ=environ)
    assert "hunter2" not in str(excinfo.value)
    settings = load_settings(environ={**environ, "PBX_SMS_AMI_PORT": "5038"})
    shown = repr(settings) + str(settings.redacted())
    assert "hunter2" not in shown
    assert settings.redacted()["ami_secret"] == "***"
    assert settings.redacted()["http_token"] == "***"
    assert settings.ami_secret.get_secret_value() == "hunter2-very-secret"


def test_broken_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("gateway = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml: invalid TOML"):
        load_settings(config, environ={})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_context_lists_accept_comma_strings() -> None:
    settings = load_settings(environ={"PBX_SMS_INBOUND_CONTEXTS": "from-trunk, from-sip ,"})
    assert settings.inbound_contexts == ("from-trunk", "from-sip")
