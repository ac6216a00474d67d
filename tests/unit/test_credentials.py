"""Password hashing parameters, token format, digests and CSRF tokens (no database)."""

from __future__ import annotations

import hashlib

from pbx_sms.storage.credentials import (
    DEFAULT_HASHER,
    csrf_token,
    hash_password,
    needs_rehash,
    new_api_token,
    plausible_secret,
    secret_digest,
    verify_password,
)


def test_passwords_get_argon2id_with_rfc_9106_parameters() -> None:
    stored = hash_password("a long passphrase")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, "a long passphrase") and not verify_password(stored, "a long passphrasE")
    assert not needs_rehash(stored, DEFAULT_HASHER)


def test_a_damaged_stored_hash_is_a_mismatch_and_wants_a_rehash() -> None:
    assert not verify_password("not a hash", "anything at all")
    assert needs_rehash("not a hash")


def test_tokens_are_random_prefixed_and_stored_as_sha256() -> None:
    tokens = {new_api_token() for _ in range(100)}
    assert len(tokens) == 100
    token = new_api_token(lambda: "fixed")
    assert token == "pbxsms_fixed"
    assert secret_digest(token) == hashlib.sha256(b"pbxsms_fixed").hexdigest()
    assert all(len(t) == len("pbxsms_") + 43 for t in tokens)  # 32 random bytes


def test_only_plausible_secrets_are_looked_up() -> None:
    assert plausible_secret(new_api_token())
    for bad in ("", "x" * 201, "pbxsms_\x00", "żółw", "with space\n"):
        assert not plausible_secret(bad)


def test_the_csrf_token_is_not_the_session_id() -> None:
    assert csrf_token("session") != "session" and len(csrf_token("session")) == 64
