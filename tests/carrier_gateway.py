"""Two third-party gateways, as a plug-in package would write them (docs/gateways.md, "Gateway plug-ins").

``carrier`` declares a settings model (a GatewayPlugin); ``pigeon`` is a plain factory that
reads ``settings.section("pigeon")`` itself. Tests register them as entry points.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pbx_sms.config import Settings
from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms, SendResult
from pbx_sms.gateways.registry import GatewayPlugin


class CarrierSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr
    timeout_s: float = Field(10.0, gt=0)


class CarrierGateway:
    name = "carrier"

    def __init__(self, config: CarrierSettings) -> None:
        self.config = config
        self.timeout_s = config.timeout_s

    async def send(self, sms: OutgoingSms) -> SendResult:
        return SendResult.sent(sms.idempotency_key)

    async def close(self) -> None:
        return None


create = GatewayPlugin("carrier", CarrierSettings, lambda config, settings: CarrierGateway(config))


class PigeonGateway:
    name = "pigeon"
    timeout_s = 3600.0

    def __init__(self, loft: str, seed: str) -> None:
        self.loft = loft
        self.seed = seed

    async def send(self, sms: OutgoingSms) -> SendResult:
        return SendResult.transient("the pigeon is still out")

    async def close(self) -> None:
        return None


def create_pigeon(settings: Settings) -> PigeonGateway:
    section = settings.section("pigeon")
    if not section.get("loft"):
        raise GatewayConfigError("PBX_SMS_PIGEON_LOFT: required by the pigeon gateway")
    return PigeonGateway(section["loft"], section.get("seed_token", ""))
