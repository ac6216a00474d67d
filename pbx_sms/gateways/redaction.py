"""No configured secret in what a gateway reports: one redaction, applied to every gateway from outside.

``create_gateway`` wraps whatever gateway it builds in a ``RedactingGateway``: each result's reason and
message id is redacted before the outbox stores it (``last_error``, the failure reason, so also
``status`` and ``pbx-sms log``) or logs it, and the same secrets are registered with the log
formatter (``pbx_sms.logs.redact_in_logs``), which covers the lines gateways and libraries log
themselves. A gateway therefore cannot forget it: it never sees the redaction at all.

The secrets are collected from the settings, not declared by the gateway: every ``SecretStr`` of
the settings (the listener's AMI secret ...), the database URL's password, every ``SecretStr``
field of the gateway's validated settings model, and every gateway setting whose name says secret
(``*_token``, ``*_password``, ``*_secret``, ``*_api_key``; ``pbx_sms.config.is_secret_key``), which
covers plug-ins without a model. The gateway's other settings (account SID, user name ...) are the
identities the secrets are paired with in basic-auth and AUTH PLAIN forms.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from pbx_sms.config import Settings, is_secret_key
from pbx_sms.core.redaction import Redactor, redactor_for
from pbx_sms.gateways.base import Gateway, OutgoingSms, SendResult

log = logging.getLogger(__name__)


def model_secrets(value: Any) -> Iterator[str]:
    """The values of every ``SecretStr`` in a pydantic model, nested models and collections included."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from model_secrets(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from model_secrets(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from model_secrets(item)


def model_identities(value: BaseModel) -> Iterator[str]:
    """The plain text fields of a settings model (user names, account SIDs): what a secret is paired with."""
    for name in type(value).model_fields:
        field = getattr(value, name)
        if isinstance(field, str):
            yield field


def _database_password(url: str) -> str | None:
    try:
        return make_url(url.strip()).password
    except ArgumentError:
        return None


def gateway_redactor(settings: Settings, section: str, config: BaseModel | None) -> Redactor:
    """Every form of every secret the configuration holds, paired with the gateway's identities."""
    secrets = set(model_secrets(settings))
    password = _database_password(settings.database_url)
    if password:
        secrets.add(password)
    identities = {settings.ami.username}
    for key, raw in settings.gateway_settings.items():
        if is_secret_key(key):
            secrets.add(str(raw.value))
        elif key.startswith(section.lower() + "_") and isinstance(raw.value, str):
            identities.add(raw.value)
    if config is not None:
        secrets |= set(model_secrets(config))
        identities |= set(model_identities(config))
    return redactor_for(sorted(secrets), sorted(identities - secrets))


class RedactingGateway:
    """A gateway whose results never carry a configured secret; everything else is the gateway's own."""

    def __init__(self, inner: Gateway, redactor: Redactor) -> None:
        self.inner = inner
        self.redactor = redactor
        self.name = inner.name
        self.timeout_s = inner.timeout_s

    def __getattr__(self, name: str) -> Any:
        # What the worker asks of a gateway beyond the protocol (max_concurrency, local_to_pbx ...).
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"RedactingGateway({self.inner!r})"

    async def send(self, sms: OutgoingSms) -> SendResult:
        try:
            result = await self.inner.send(sms)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A bug in a gateway: keep the SMS (bounded retries) and say what happened, here, where
            # the exception's text is redacted like any reason (the log line by the formatter).
            log.exception("gateway %s failed on SMS %s", self.name, sms.idempotency_key)
            result = SendResult.transient(f"gateway error: {type(exc).__name__}: {exc}")
        return self.redacted(result)

    def redacted(self, result: SendResult) -> SendResult:
        if not self.redactor:
            return result
        reason = self.redactor.redact(result.reason) if result.reason is not None else None
        message_id = self.redactor.redact(result.message_id) if result.message_id is not None else None
        if (reason, message_id) == (result.reason, result.message_id):
            return result
        return dataclasses.replace(result, message_id=message_id, reason=reason)

    async def close(self) -> None:
        await self.inner.close()
