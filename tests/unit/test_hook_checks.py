"""The callbacks' own proofs of origin: signatures, timestamps, the token, the log's redaction."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pbx_sms.config import load_settings
from pbx_sms.config.errors import ConfigError
from pbx_sms.config.models import WebSettings
from pbx_sms.core.hook_signatures import http_signature, secrets_match, timestamp_fresh, twilio_signature
from pbx_sms.web.hooks import redacted_path
from pbx_sms.web.hooks.checks import RefusalLog, token_accepted
from pbx_sms.web.middleware_requests import logged_path

TOKEN = "t" * 43


def test_twilio_signature_matches_twilios_documented_example() -> None:
    params = [
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_signature("12345", url.replace("bar=2", "bar=3"), params) != "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_http_signature_binds_timestamp_path_and_body() -> None:
    signed = http_signature("s3cret", "1700000000", "/sms/hooks/http/status", b'{"id":"1"}')
    assert len(signed) == 64
    assert http_signature("s3cret", "1700000001", "/sms/hooks/http/status", b'{"id":"1"}') != signed
    assert http_signature("s3cret", "1700000000", "/sms/hooks/http/reply", b'{"id":"1"}') != signed
    assert http_signature("s3cret", "1700000000", "/sms/hooks/http/status", b'{"id":"2"}') != signed
    assert http_signature("other", "1700000000", "/sms/hooks/http/status", b'{"id":"1"}') != signed


@pytest.mark.parametrize(
    ("timestamp", "fresh"),
    [
        ("1700000000", True),
        ("1700000300", True),
        ("1699999700", True),
        ("1700000301", False),
        ("1699999699", False),
        ("", False),
        ("-5", False),
        ("17e8", False),
        ("١٧٠٠٠٠٠٠٠٠", False),
        ("9" * 40, False),
    ],
)
def test_timestamp_fresh_within_five_minutes_either_way(timestamp: str, fresh: bool) -> None:
    assert timestamp_fresh(timestamp, now_s=1_700_000_000.0) is fresh


def test_an_empty_secret_matches_nothing() -> None:
    assert not secrets_match("", "")
    assert secrets_match("abc", "abc")
    assert not secrets_match("abc", "abd")


def test_hook_token_accepted_only_when_set_and_equal() -> None:
    assert not token_accepted(WebSettings(), "")
    settings = WebSettings(hook_token=TOKEN)
    assert token_accepted(settings, TOKEN)
    assert not token_accepted(settings, TOKEN[:-1])


def test_hook_token_too_short_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(None, environ={"PBX_SMS_WEB_HOOK_TOKEN": "short-token"})
    assert "short-token" not in str(raised.value)
    assert "PBX_SMS_WEB_HOOK_TOKEN" in str(raised.value)
    assert "32 to 128" in str(raised.value)


@pytest.mark.parametrize("bad", ["pbx.example.com", "https://pbx.example.com/?x=1", "ftp://pbx", "https://a b"])
def test_public_url_must_be_an_address_without_query(bad: str) -> None:
    with pytest.raises(ValidationError, match="not a public address"):
        WebSettings(public_url=bad)


def test_public_url_loses_its_trailing_slash() -> None:
    assert WebSettings(public_url="https://example.com/sms/").public_url == "https://example.com/sms"


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=60))
def test_a_token_hooks_token_never_reaches_the_log_line(token: str) -> None:
    logged = logged_path(f"/hooks/smsapi/{token}/status")
    assert logged == "/hooks/smsapi/***/status"


def test_other_paths_are_logged_as_they_are() -> None:
    assert redacted_path("/hooks/twilio/status") == "/hooks/twilio/status"
    assert redacted_path("/api/v1/accounts/smsapi/x") == "/api/v1/accounts/smsapi/x"
    assert redacted_path("/hooks/smsapi") == "/hooks/smsapi"


class Ticks:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_refusals_are_logged_once_a_minute_per_source(caplog: pytest.LogCaptureFixture) -> None:
    clock = Ticks()
    refusals = RefusalLog(clock)
    with caplog.at_level(logging.WARNING, logger="pbx_sms.web.hooks"):
        assert refusals.refused("twilio", "203.0.113.5", "bad signature")
        clock.now_s = 30
        assert not refusals.refused("twilio", "203.0.113.5", "bad signature")
        assert not refusals.refused("twilio", "203.0.113.5", "bad signature")
        assert refusals.refused("twilio", "198.51.100.7", "bad signature")  # another source
        assert refusals.refused("smsapi", "203.0.113.5", "bad token")  # another hook
        clock.now_s = 60
        assert refusals.refused("twilio", "203.0.113.5", "bad signature")
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 4
    assert lines[-1].endswith("(2 more refused in the last interval)")


def test_refusal_sources_are_bounded() -> None:
    clock = Ticks()
    refusals = RefusalLog(clock, max_sources=3)
    for index in range(10):
        refusals.refused("twilio", f"10.0.0.{index}", "bad signature")
    assert len(refusals._sources) == 3
