"""Validating one gateway's settings (``PBX_SMS_<SECTION>_*``, ``[<section>]``) with its own model.

Errors name where each value was read (``environment variable PBX_SMS_SMSAPI_BASE_URL``,
``[smsapi] base_url in FILE``) or, for a missing one, its variable, and what was expected; never
the value: a mistyped token must not end up in a log.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from pbx_sms.config import Settings, describe_error, variable_name
from pbx_sms.gateways.base import GatewayConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


def env_name(section: str, key: str) -> str:
    """The environment variable of a gateway's setting: ``PBX_SMS_AMI_SEND_DEVICE``."""
    return variable_name(f"{section}_{key}")


def load_section(settings: Settings, section: str, model: type[ModelT]) -> ModelT:
    """The settings named ``section_*`` validated by ``model`` (which should forbid extra keys)."""
    head = section.lower() + "_"
    raw = {key.removeprefix(head): value for key, value in settings.gateway_settings.items() if key.startswith(head)}
    try:
        return model.model_validate({key: value.value for key, value in raw.items()})
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            message = describe_error(error)
            if error["loc"]:
                key = str(error["loc"][0])
                where = raw[key].source if key in raw else env_name(section, key)
                problems.append(f"{where}: {message}")
            else:
                problems.append(message)
        raise GatewayConfigError(f"{section} gateway: " + "; ".join(problems)) from None
