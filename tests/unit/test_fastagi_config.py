"""The FastAGI settings: loopback by default; listening wider refused at start-up without the allowed
networks and the secret; the secret fits an agi:// path and never shows."""

from __future__ import annotations

import re

import pytest

from pbx_sms.config import ConfigError, load_settings
from pbx_sms.config.models import is_loopback_host

SECRET = "0123456789abcdef0123"


def test_defaults_listen_on_loopback_with_nothing_else_needed() -> None:
    fastagi = load_settings(environ={}).fastagi
    assert (fastagi.enabled, fastagi.host, fastagi.port, fastagi.allow) == (True, "127.0.0.1", 4573, ())
    assert fastagi.secret.get_secret_value() == ""


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({"PBX_SMS_FASTAGI_HOST": "0.0.0.0"}, "PBX_SMS_FASTAGI_ALLOW and PBX_SMS_FASTAGI_SECRET"),
        ({"PBX_SMS_FASTAGI_HOST": "192.0.2.10", "PBX_SMS_FASTAGI_SECRET": SECRET}, "PBX_SMS_FASTAGI_ALLOW"),
        ({"PBX_SMS_FASTAGI_HOST": "::", "PBX_SMS_FASTAGI_ALLOW": "10.0.0.0/8"}, "PBX_SMS_FASTAGI_SECRET"),
        ({"PBX_SMS_FASTAGI_HOST": "pbx.example", "PBX_SMS_FASTAGI_ALLOW": "10.0.0.0/8"}, "PBX_SMS_FASTAGI_SECRET"),
    ],
)
def test_listening_beyond_loopback_needs_the_allow_list_and_the_secret(environ: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    message = str(caught.value)
    assert f"is not a loopback address: listening there needs {missing} " in message
    assert SECRET not in message


def test_with_both_it_may_listen_anywhere_and_disabled_it_needs_neither() -> None:
    environ = {
        "PBX_SMS_FASTAGI_HOST": "0.0.0.0",
        "PBX_SMS_FASTAGI_ALLOW": "192.0.2.7,10.0.0.0/8",
        "PBX_SMS_FASTAGI_SECRET": SECRET,
    }
    assert [str(network) for network in load_settings(environ=environ).fastagi.allow] == ["192.0.2.7/32", "10.0.0.0/8"]
    assert not load_settings(
        environ={"PBX_SMS_FASTAGI_HOST": "0.0.0.0", "PBX_SMS_FASTAGI_ENABLED": "0"}
    ).fastagi.enabled


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.1", False),
        ("pbx.example", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_a_network_with_host_bits_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=re.escape("PBX_SMS_FASTAGI_ALLOW: '10.0.0.1/8' is not a network")):
        load_settings(environ={"PBX_SMS_FASTAGI_ALLOW": "10.0.0.0/8, 10.0.0.1/8"})


@pytest.mark.parametrize("secret", ["short-secret", "has/a/slash-0123456789", "comma,0123456789abcdef", "x" * 129])
def test_a_secret_that_does_not_fit_an_agi_path_is_refused_without_showing_it(secret: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"PBX_SMS_FASTAGI_SECRET": secret})
    message = str(caught.value)
    assert "environment variable PBX_SMS_FASTAGI_SECRET: expected 16 to 128 letters, digits or - . _ ~ (" in message
    assert secret not in message


def test_the_secret_never_shows() -> None:
    settings = load_settings(environ={"PBX_SMS_FASTAGI_SECRET": SECRET})
    assert SECRET not in repr(settings) + str(settings.redacted())
    assert settings.redacted()["fastagi_secret"] == "***"
