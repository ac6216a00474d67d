"""`pbx-sms users` and `pbx-sms tokens` end to end through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from cli_helpers import admin_env
from typer.testing import CliRunner, Result

from pbx_sms.cli import users as users_cli
from pbx_sms.cli.main import app
from pbx_sms.core.clock import utc_now
from pbx_sms.storage import credentials
from pbx_sms.storage.api_tokens import authenticate_token
from pbx_sms.storage.database import open_database
from pbx_sms.storage.logins import login

PASSWORD = "s3cret-passphrase"
Run = Callable[..., Result]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    # Cheap argon2 parameters for speed (the defaults take most of a second per hash).
    monkeypatch.setattr(credentials, "DEFAULT_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    runner = CliRunner()
    env = admin_env(database_url)

    def run(*args: str, code: int | None = 0, input: str | None = None) -> Result:
        """Fails the test on another exit code (None: any of 0, 1, 2) or on an uncaught exception."""
        result = runner.invoke(app, list(args), env=env, input=input)
        expected = (0, 1, 2) if code is None else (code,)
        assert result.exit_code in expected, (
            f"pbx-sms {' '.join(args)[:200]} → {result.exit_code}:\n{result.output[-500:]}"
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        return result

    run("accounts", "add", "acme")
    return run


def logs_in(database_url: str, name: str, password: str) -> bool:
    database = open_database(database_url)
    try:
        return (
            login(database, name, password, "192.0.2.1", utc_now(), hasher=credentials.DEFAULT_HASHER).user is not None
        )
    finally:
        database.close()


def token_works(database_url: str, token: str) -> bool:
    database = open_database(database_url)
    try:
        with database.write_session() as session:
            return authenticate_token(session, token, utc_now()) is not None
    finally:
        database.close()


def test_users_lifecycle(cli: Run, database_url: str) -> None:
    added = cli(
        "users", "add", "Anna", "--role", "admin", "--account", "acme", "--password-stdin", input=PASSWORD + "\n"
    )
    assert "added user 'anna': admin of account 'acme'" in added.stdout
    cli("users", "add", "root", "--role", "OPERATOR", "--password-stdin", input=PASSWORD + "\n")
    cli(
        "users",
        "add",
        "vic",
        "--role",
        "viewer",
        "--account",
        "acme",
        "--language",
        "pl",
        "--password-stdin",
        input=PASSWORD,
    )
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["account"], u["language"], u["disabled"]) for u in listed] == [
        ("anna", "admin", "acme", "en", False),
        ("root", "operator", None, "en", False),
        ("vic", "viewer", "acme", "pl", False),
    ]
    assert [u["name"] for u in json.loads(cli("users", "list", "--account", "acme", "--json").stdout)] == [
        "anna",
        "vic",
    ]
    table = cli("users", "list").stdout
    assert "root  operator  (all)" in table and "argon2" not in table
    assert [line.split()[3] for line in table.splitlines() if line.startswith(("anna", "vic"))] == ["(browser)", "pl"]
    assert [u["language_chosen"] for u in listed] == [False, False, True]  # without --language: the browser's
    assert logs_in(database_url, "anna", PASSWORD)

    assert "user 'vic': language en" in cli("users", "set", "VIC", "--language", "EN").stdout
    assert json.loads(cli("users", "list", "--json").stdout)[2]["language"] == "en"
    assert "'xx' is not one of" in " ".join(cli("users", "set", "vic", "--language", "xx", code=2).output.split())
    cli("users", "passwd", "anna", "--password-stdin", input="another-passphrase\n")
    assert not logs_in(database_url, "anna", PASSWORD) and logs_in(database_url, "anna", "another-passphrase")
    assert "user 'anna' disabled" in cli("users", "disable", "anna").stdout
    assert "was already disabled" in cli("users", "disable", "anna").stdout
    assert "DISABLED" in cli("users", "list").stdout
    assert not logs_in(database_url, "anna", "another-passphrase")
    cli("users", "enable", "anna")
    assert logs_in(database_url, "anna", "another-passphrase")
    assert "add --yes" in cli("users", "remove", "anna", code=1).output
    cli("users", "remove", "anna", "--yes")
    assert "user 'anna' does not exist" in cli("users", "passwd", "anna", "--password-stdin", code=1).output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--role", "admin", "--account", "nowhere"], 1, "account 'nowhere' does not exist"),
        (["--role", "admin"], 1, "account: an admin belongs to one account; name it (--account)"),
        (["--role", "operator", "--account", "acme"], 1, "account: an operator works on every account"),
        (["--role", "root", "--account", "acme"], 2, "'root' is not one of"),
        (["--role", "viewer", "--account", "acme", "--language", "de"], 2, "'de' is not one of"),
    ],
)
def test_users_add_refuses_bad_input_before_asking_for_a_password(
    cli: Run, args: list[str], code: int, message: str
) -> None:
    result = cli("users", "add", "bob", *args, "--password-stdin", code=code, input=PASSWORD + "\n")
    assert message in " ".join(result.output.split())
    assert json.loads(cli("users", "list", "--json").stdout) == []


def test_a_short_password_is_refused_and_nothing_is_added(cli: Run) -> None:
    result = cli("users", "add", "bob", "--role", "operator", "--password-stdin", code=1, input="short\n")
    assert "password: expected at least 8 characters" in result.output and "short" not in result.output.replace(
        "expected at least", ""
    )
    assert json.loads(cli("users", "list", "--json").stdout) == []


def test_without_a_terminal_the_password_must_come_on_stdin(cli: Run) -> None:
    result = cli("users", "add", "bob", "--role", "operator", code=1)
    assert "no terminal to ask for the password on" in result.output and "--password-stdin" in result.output


def test_on_a_terminal_the_password_is_asked_twice_hidden(
    cli: Run, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users_cli, "stdin_is_terminal", lambda: True)
    typed = f"{PASSWORD}\nmistyped-passphrase\n{PASSWORD}\n{PASSWORD}\n"
    result = cli("users", "add", "bob", "--role", "operator", input=typed)
    assert result.output.count("Password:") == 2 and "do not match" in result.output
    assert PASSWORD not in result.output and "mistyped" not in result.output
    assert logs_in(database_url, "bob", PASSWORD)


def test_tokens_create_list_revoke(cli: Run, database_url: str) -> None:
    cli("users", "add", "anna", "--role", "admin", "--account", "acme", "--password-stdin", input=PASSWORD)
    created = cli("tokens", "create", "anna", "--name", "ci deploy")
    token = created.stdout.strip()
    assert (
        token.startswith("pbxsms_") and "\n" not in token
    )  # stdout is the token alone: TOKEN=$(pbx-sms tokens create …)
    assert "shown only now" in created.stderr and token not in created.stderr
    assert token_works(database_url, token)
    second = cli("tokens", "create", "anna").stdout.strip()
    listed = json.loads(cli("tokens", "list", "anna", "--json").stdout)
    assert [(t["id"], t["user"], t["name"], t["revoked_at"]) for t in listed] == [
        (1, "anna", "ci deploy", None),
        (2, "anna", "", None),
    ]
    assert listed[0]["last_used_at"] is not None and listed[1]["last_used_at"] is None
    table = cli("tokens", "list").stdout
    assert "ci deploy" in table and token not in table and second not in table
    assert "token 1 of user 'anna' revoked" in cli("tokens", "revoke", "1").stdout
    assert "already revoked" in cli("tokens", "revoke", "1").stdout
    assert not token_works(database_url, token) and token_works(database_url, second)
    assert "token 7 does not exist" in cli("tokens", "revoke", "7", code=1).output
    assert "user 'bob' does not exist" in cli("tokens", "create", "bob", code=1).output
    assert "user 'bob' does not exist" in cli("tokens", "list", "bob", code=1).output


def test_no_command_help_mentions_a_password_option(cli: Run) -> None:
    for group, commands in {
        "users": ["add", "list", "set", "passwd", "disable", "enable", "remove"],
        "tokens": ["create", "list", "revoke"],
    }.items():
        for command in commands:
            shown = cli(group, command, "--help").stdout
            assert "--password " not in shown and "--token" not in shown


BOUNDARY_VALUES = ["", "\x00", "a\x00b", "\x1b[31m", "x" * 10_000, "-1", "99999999999999999999999", "ż" * 300]


@pytest.mark.parametrize("value", BOUNDARY_VALUES, ids=range(len(BOUNDARY_VALUES)))
def test_boundary_values_give_clear_errors_not_tracebacks(cli: Run, value: str) -> None:
    invocations = [
        ["users", "add", value, "--role", "admin", "--account", "acme", "--password-stdin"],
        ["users", "add", "bob", "--role", "viewer", "--account", value, "--password-stdin"],
        ["users", "add", "bob", "--role", value, "--password-stdin"],
        ["users", "add", "bob", "--role", "admin", "--account", "acme", "--language", value, "--password-stdin"],
        ["users", "list", "--account", value],
        ["users", "passwd", value, "--password-stdin"],
        ["users", "disable", value],
        ["users", "set", value, "--language", "pl"],
        ["users", "set", "anna", "--language", value],
        ["users", "enable", value],
        ["users", "remove", value, "--yes"],
        ["tokens", "create", value],
        ["tokens", "list", value],
        ["tokens", "revoke", value],
    ]
    cli("users", "add", "anna", "--role", "admin", "--account", "acme", "--password-stdin", input=PASSWORD)
    invocations.append(["tokens", "create", "anna", "--name", value])
    for args in invocations:
        cli(*args, code=None, input=value + "\n")
