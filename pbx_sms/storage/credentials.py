"""Passwords (argon2id) and random secrets (API tokens, session ids) as they are made, stored and checked.

Passwords get a slow salted hash (argon2-cffi): a stolen database does not give them away. API tokens
and session ids are 256-bit random values: guessing one is hopeless however fast the hash, so they
are stored as a plain SHA-256 digest, which, unlike a salted hash, can be looked up by an index.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pbx_sms.storage.errors import InvalidValue

MIN_PASSWORD_LENGTH = 8
# argon2 hashes any length in the same time, but a megabyte "password" is not one: refuse it early.
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "pbxsms_"
# What a presented token or session id may be before it is even hashed (prefix + 43 characters, with room).
MAX_SECRET_LENGTH = 200

# RFC 9106's second recommended profile (argon2id, 64 MiB, 3 passes): argon2-cffi's default.
DEFAULT_HASHER = PasswordHasher()

NewSecret = Callable[[], str]


def random_secret() -> str:
    """32 random bytes, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


def new_api_token(new_secret: NewSecret = random_secret) -> str:
    """A new API token; the prefix makes a leaked one recognisable (secret scanners, logs)."""
    return TOKEN_PREFIX + new_secret()


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def plausible_secret(secret: str) -> bool:
    """Whether a presented token or session id is worth looking up (bounded, printable ASCII)."""
    return 0 < len(secret) <= MAX_SECRET_LENGTH and secret.isascii() and secret.isprintable()


def check_password(password: str) -> str:
    """A new password as given; InvalidValue says what is wrong with it (never the password itself)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidValue(f"password: expected at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidValue(f"password: expected at most {MAX_PASSWORD_LENGTH} characters")
    if "\x00" in password:
        raise InvalidValue("password: must not contain a NUL character")
    return password


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return hasher.hash(check_password(password))


def verify_password(stored_hash: str, password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Constant-time check (argon2's own comparison). A damaged stored hash is a mismatch, not a crash."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Whether the hash was made with other parameters than ``hasher``'s (then it is redone at the next login)."""
    try:
        return hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def spend_verify_time(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> None:
    """Verify against a throw-away hash: a login for a user who does not exist takes as long as a wrong
    password, so the answer time does not tell which user names exist."""
    verify_password(_dummy_hash(hasher), password, hasher)


def csrf_token(session_secret: str) -> str:
    """The CSRF token of a browser session, derived from its secret id (so nothing more is stored):
    a page of that session embeds it, another site cannot compute it."""
    return hmac.new(session_secret.encode("utf-8"), b"pbx-sms csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_secret: str, presented: str) -> bool:
    return hmac.compare_digest(csrf_token(session_secret).encode("ascii"), presented.encode("utf-8", "replace"))
