"""Callbacks from SMS providers (delivery reports, replies), served by `pbx-sms web` under /hooks.

They carry no user: each proves its origin itself (a provider's signature, or a secret token as a
path segment for providers that cannot sign), so every hook route is ``guard.public`` and checks
the request in ``hooks.checks``. The token segment never reaches the request log (``redacted_path``).
"""

from __future__ import annotations

HOOKS_PREFIX = "/hooks"
# Hooks whose next path segment is the secret token: /hooks/smsapi/TOKEN/status.
TOKEN_HOOKS = ("smsapi",)
REDACTED = "***"


def redacted_path(path: str) -> str:
    """The path as the request log may show it: a token hook's token segment replaced."""
    parts = path.split("/")
    # ["", "hooks", provider, token, ...]
    if len(parts) > 3 and "/" + parts[1] == HOOKS_PREFIX and parts[2] in TOKEN_HOOKS:
        parts[3] = REDACTED
    return "/".join(parts)
