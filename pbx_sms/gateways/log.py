"""The ``log`` gateway (default): writes each SMS as one JSON line and sends nothing.

``PBX_SMS_LOG_PATH`` names a file to append to; without it the lines go to standard output.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ConfigDict

from pbx_sms.files import open_private_append
from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms, SendResult
from pbx_sms.gateways.registry import GatewayPlugin

NAME = "log"


class LogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Empty or unset: standard output.
    path: str | None = None


class LogGateway:
    name = NAME
    timeout_s = 5.0
    # It only writes a line (nothing is charged): after a crash it writes it again.
    resend_after_crash = True

    def __init__(self, path: Path | None = None, stream: TextIO | None = None) -> None:
        self._path = path
        self._stream = stream
        self._file: TextIO | None = None

    def _out(self) -> TextIO:
        if self._stream is not None:
            return self._stream
        if self._path is None:
            return sys.stdout
        if self._file is None:
            try:
                # Phone numbers and texts: never readable by other users, whatever the umask.
                self._file = open_private_append(self._path)
            except OSError as exc:
                raise GatewayConfigError(f"PBX_SMS_LOG_PATH: cannot open {self._path}: {exc.strerror}") from exc
        return self._file

    async def send(self, sms: OutgoingSms) -> SendResult:
        line = {
            "id": sms.idempotency_key,
            "to": sms.to,
            "from": sms.sender,
            "text": sms.text,
            "encoding": sms.encoding,
            "parts": sms.parts,
            "at": datetime.now(UTC).isoformat(),
        }
        try:
            out = self._out()
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            out.flush()
        except (OSError, GatewayConfigError) as exc:
            # A full disk or a missing directory may be fixed by the operator: try again later.
            return SendResult.transient(f"log gateway cannot write: {exc}")
        return SendResult.sent(sms.idempotency_key)

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# Entry point ``pbx_sms.gateways: log``.
create = GatewayPlugin(
    NAME, LogSettings, lambda config, _settings: LogGateway(Path(config.path) if config.path else None)
)
