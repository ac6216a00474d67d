"""A valid value for every setting name, and what it becomes once read (for tests/unit/test_config.py).

A newly documented or newly declared setting needs a sample here: the test that reads every name
fails until it has one.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Any

SID = "AC" + "0123456789abcdef" * 2

# Environment text → the value the settings (or the gateway's validated settings) hold.
SAMPLES: dict[str, tuple[str, Any]] = {
    "PBX_SMS_DATABASE_URL": ("postgresql://pbx@db.example/pbx", "postgresql://pbx@db.example/pbx"),
    "PBX_SMS_GATEWAY": ("smsapi", "smsapi"),
    "PBX_SMS_TIMEZONE": ("America/Chicago", "America/Chicago"),
    "PBX_SMS_COUNTRY": ("de", "DE"),
    "PBX_SMS_PBX_NAME": ("pbx-berlin", "pbx-berlin"),
    "PBX_SMS_AMI_ENABLED": ("false", False),
    "PBX_SMS_AMI_HOST": ("10.1.2.3", "10.1.2.3"),
    "PBX_SMS_AMI_PORT": ("5039", 5039),
    "PBX_SMS_AMI_USERNAME": ("listener", "listener"),
    "PBX_SMS_AMI_SECRET": ("listener-secret", "listener-secret"),
    "PBX_SMS_AMI_PING_INTERVAL_S": ("7.5", 7.5),
    "PBX_SMS_AMI_PING_TIMEOUT_S": ("2", 2.0),
    "PBX_SMS_AMI_RECONNECT_MIN_S": ("0.25", 0.25),
    "PBX_SMS_AMI_RECONNECT_MAX_S": ("30", 30.0),
    "PBX_SMS_CDR_GRACE_S": ("1.5", 1.5),
    "PBX_SMS_HOOK_WAIT_S": ("4.5", 4.5),
    "PBX_SMS_INBOUND_CONTEXTS": ("from-trunk,from-sip", ("from-trunk", "from-sip")),
    "PBX_SMS_OUTBOUND_CONTEXTS": ("from-office", ("from-office",)),
    "PBX_SMS_INTERNAL_MAX_DIGITS": ("4", 4),
    "PBX_SMS_OUTBOUND_PREFIX": ("0", "0"),
    "PBX_SMS_MAX_OPEN_CALLS": ("500", 500),
    "PBX_SMS_MAX_CALL_AGE_S": ("3600", 3600.0),
    "PBX_SMS_MAX_CHANNELS_PER_CALL": ("200", 200),
    "PBX_SMS_LOG_FORMAT": ("json", "json"),
    "PBX_SMS_LOG_LEVEL": ("DEBUG", "DEBUG"),
    "PBX_SMS_METRICS_ENABLED": ("false", False),
    "PBX_SMS_METRICS_HOST": ("0.0.0.0", "0.0.0.0"),
    "PBX_SMS_METRICS_PORT": ("9500", 9500),
    "PBX_SMS_HEALTH_AMI_DOWN_MAX_S": ("30", 30.0),
    "PBX_SMS_FASTAGI_ENABLED": ("false", False),
    # A loopback address: anything wider needs the allow list and the secret as well.
    "PBX_SMS_FASTAGI_HOST": ("::1", "::1"),
    "PBX_SMS_FASTAGI_PORT": ("4574", 4574),
    "PBX_SMS_FASTAGI_ALLOW": (
        "192.0.2.7, 10.0.0.0/8,fd00::/8",
        (IPv4Network("192.0.2.7/32"), IPv4Network("10.0.0.0/8"), IPv6Network("fd00::/8")),
    ),
    "PBX_SMS_FASTAGI_SECRET": ("0123456789abcdef-fastagi", "0123456789abcdef-fastagi"),
    "PBX_SMS_OUTBOX_MAX_IN_FLIGHT": ("32", 32),
    "PBX_SMS_OUTBOX_CLAIM_BATCH": ("16", 16),
    "PBX_SMS_OUTBOX_CLAIM_INTERVAL_S": ("0.05", 0.05),
    "PBX_SMS_OUTBOX_POLL_S": ("2", 2.0),
    "PBX_SMS_OUTBOX_LEASE_S": ("90", 90.0),
    "PBX_SMS_OUTBOX_FLUSH_INTERVAL_S": ("0.1", 0.1),
    "PBX_SMS_OUTBOX_RETRY_BASE_S": ("1", 1.0),
    "PBX_SMS_OUTBOX_RETRY_MAX_S": ("120", 120.0),
    "PBX_SMS_OUTBOX_RETRY_MAX_ATTEMPTS": ("3", 3),
    "PBX_SMS_OUTBOX_RETRY_MAX_AGE_S": ("7200", 7200.0),
    # Gateways' settings.
    "PBX_SMS_LOG_PATH": ("/var/lib/pbx-sms/sms.jsonl", "/var/lib/pbx-sms/sms.jsonl"),
    "PBX_SMS_HTTP_URL": ("https://sms.example.com/send", "https://sms.example.com/send"),
    "PBX_SMS_HTTP_TOKEN": ("bearer-token", "bearer-token"),
    "PBX_SMS_HTTP_ID_FIELD": ("data.id", "data.id"),
    "PBX_SMS_HTTP_TIMEOUT_S": ("2.5", 2.5),
    "PBX_SMS_HTTP_MAX_CONNECTIONS": ("4", 4),
    "PBX_SMS_HTTP_RESEND_AFTER_CRASH": ("true", True),
    "PBX_SMS_SMSAPI_TOKEN": ("smsapi-token", "smsapi-token"),
    "PBX_SMS_SMSAPI_BASE_URL": ("https://api.smsapi.com", "https://api.smsapi.com"),
    "PBX_SMS_SMSAPI_NORMALIZE": ("1", True),
    "PBX_SMS_SMSAPI_TEST": ("true", True),
    "PBX_SMS_SMSAPI_TIMEOUT_S": ("20", 20.0),
    "PBX_SMS_TWILIO_ACCOUNT_SID": ("AC" + "f" * 32, "AC" + "f" * 32),
    "PBX_SMS_TWILIO_AUTH_TOKEN": ("twilio-token", "twilio-token"),
    "PBX_SMS_TWILIO_BASE_URL": ("http://127.0.0.1:9", "http://127.0.0.1:9"),
    "PBX_SMS_TWILIO_MESSAGING_SERVICE_SID": ("MG" + "a" * 32, "MG" + "a" * 32),
    "PBX_SMS_TWILIO_STATUS_CALLBACK": ("https://pbx.example/status", "https://pbx.example/status"),
    "PBX_SMS_TWILIO_TIMEOUT_S": ("5", 5.0),
    "PBX_SMS_SMTP_HOST": ("mail.example", "mail.example"),
    "PBX_SMS_SMTP_PORT": ("2525", 2525),
    "PBX_SMS_SMTP_TLS": ("none", "none"),
    "PBX_SMS_SMTP_USERNAME": ("pbx@example.com", "pbx@example.com"),
    "PBX_SMS_SMTP_PASSWORD": ("smtp-password", "smtp-password"),
    "PBX_SMS_SMTP_CA_FILE": ("/etc/ssl/private-ca.pem", "/etc/ssl/private-ca.pem"),
    "PBX_SMS_SMTP_FROM_ADDRESS": ("sms@example.com", "sms@example.com"),
    "PBX_SMS_SMTP_TO_TEMPLATE": ("{to_digits}@sms.example", "{to_digits}@sms.example"),
    "PBX_SMS_SMTP_SUBJECT_TEMPLATE": ("SMS from {sender}", "SMS from {sender}"),
    "PBX_SMS_SMTP_BODY_TEMPLATE": ("{sender}: {text}", "{sender}: {text}"),
    "PBX_SMS_SMTP_TIMEOUT_S": ("12", 12.0),
    "PBX_SMS_SMTP_RESEND_AFTER_CRASH": ("yes", True),
    "PBX_SMS_AMI_SEND_HOST": ("10.9.8.7", "10.9.8.7"),
    "PBX_SMS_AMI_SEND_PORT": ("5040", 5040),
    "PBX_SMS_AMI_SEND_USERNAME": ("sender", "sender"),
    "PBX_SMS_AMI_SEND_SECRET": ("sender-secret", "sender-secret"),
    "PBX_SMS_AMI_SEND_MODE": ("messagesend", "messagesend"),
    "PBX_SMS_AMI_SEND_DEVICE": ("dongle1", "dongle1"),
    "PBX_SMS_AMI_SEND_DESTINATION": ("pjsip:gsm/sip:{to}@gw", "pjsip:gsm/sip:{to}@gw"),
    "PBX_SMS_AMI_SEND_TO": ("sip:{to_digits}@gw", "sip:{to_digits}@gw"),
    "PBX_SMS_AMI_SEND_FROM": ("{sender} <sip:pbx@gw>", "{sender} <sip:pbx@gw>"),
    "PBX_SMS_AMI_SEND_ACTION_TIMEOUT_S": ("3", 3.0),
    "PBX_SMS_AMI_SEND_STATUS_TIMEOUT_S": ("30", 30.0),
    "PBX_SMS_AMI_SEND_RESEND_AFTER_CRASH": ("1", True),
}

# What each built-in gateway needs besides the setting under test, by its settings prefix.
GATEWAY_REQUIRED: dict[str, dict[str, str]] = {
    "log": {},
    "http": {"url": "http://127.0.0.1:9/send"},
    "smsapi": {"token": "t"},
    "twilio": {"account_sid": SID, "auth_token": "t"},
    "smtp": {
        "host": "mail.example",
        "from_address": "a@example.com",
        "to_template": "{to}@sms.example",
        "username": "u",
        "password": "p",
    },
    "ami_send": {"username": "u", "secret": "s", "device": "dongle0"},
}
