"""Reading one gateway's ``PBX_SMS_<GATEWAY>_*`` settings into a small pydantic model.

Errors name the environment variable (``PBX_SMS_SMSAPI_TOKEN``) and what was expected,
never the value: a mistyped token must not end up in a log.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from pbx_sms.config import ENV_PREFIX, Settings
from pbx_sms.gateways.base import GatewayConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


def env_name(gateway: str, key: str) -> str:
    return f"{ENV_PREFIX}{gateway}_{key}".upper()


def load_section(settings: Settings, gateway: str, model: type[ModelT]) -> ModelT:
    """Validate ``settings.section(gateway)`` against ``model`` (which should forbid extra keys)."""
    values = settings.section(gateway)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False, include_context=False):
            message = "unknown setting" if error["type"] == "extra_forbidden" else error["msg"]
            message = message.removeprefix("Value error, ")
            if error["loc"]:
                problems.append(f"{env_name(gateway, str(error['loc'][0]))}: {message}")
            else:
                problems.append(message)
        raise GatewayConfigError(f"{gateway} gateway: " + "; ".join(problems)) from None
