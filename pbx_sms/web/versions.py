"""Optimistic locking: an object's version is a digest of its content (so an edit made by SQL changes
it too); a change must carry the version it was based on in If-Match.

Without If-Match: 428. With a version that is no longer current: 412, with the current version in the
ETag header, so the client can reload and decide; never a silent overwrite of someone else's change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request

from pbx_sms.web.errors import ApiError


def version_of(content: Mapping[str, Any]) -> str:
    """The ETag of an object's content (a strong validator: quoted, as HTTP writes it)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def check_if_match(request: Request, current: str) -> None:
    """Refuse the change unless If-Match names ``current`` (or ``*``, HTTP's "any version")."""
    presented = request.headers.get("if-match")
    if presented is None:
        raise ApiError(428, "send If-Match with the ETag of the version you changed (GET it first)")
    candidates = {part.strip().removeprefix("W/") for part in presented.split(",")}
    if "*" not in candidates and current not in candidates:
        detail = "changed by someone else since you read it: GET it again and redo your change"
        raise ApiError(412, detail, headers={"ETag": current})
