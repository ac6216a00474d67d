"""Every option and argument of every ``pbx-sms`` command, with hostile values, on SQLite and PostgreSQL.

The commands and their parameters are read from the Typer app, so a new command or option is driven
too. Each value must end in exit code 0 (accepted), 1 (refused, with a message) or 2 (usage error):
never a traceback. The daemons (``run``, ``outbox work``) get a no-op loop: what is tested is the
handling of their options, not the daemon. One database per backend is shared by all cases (each
command is one transaction, so a refused case leaves nothing behind that another relies on).
"""

from __future__ import annotations

import enum
import traceback
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import admin_env
from conftest import POSTGRES_URL
from paths import FIXTURES
from typer.main import get_command
from typer.testing import CliRunner

from pbx_sms.cli.main import app

INTEGERS = (
    "99999999999999999999999",
    "-99999999999999999999",
    "9223372036854775808",
    "3000000000",
    "-1",
)
TEXTS = (
    "\x00",
    "nul\x00inside",
    "\x1b[31mred\x07\r\nforged line",
    "x" * 10_240,
    "\U0001f600\U0001d11e",
    "",
    " ",
    # Valid in form, absurd in value: a duration, times at the ends of the calendar, a country.
    "99999999999999d",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00+14:00",
    "XX",
)
RULE_FILE = """\
account: default
rules:
  - name: thanks
    when: {direction: in, numbers: all, status: [answered]}
    then: {sender: ACME, to: [other_party], text: "Thank you"}
"""
# A valid value for each required parameter, so that the one under test is the one that is wrong.
REQUIRED: dict[str, str] = {
    "direction": "in",
    "number": "+48221234567",
    "other": "+48600100200",
    "status": "no_answer",
    "name": "default",
    "account": "default",
    "sender": "ACME",
    "sms_id": "1",
    "user": "admin",
    "token_id": "1",
    "role": "operator",
    "language": "pl",
    "older_than": "90d",
    "files": "rules.yaml",
    "rule": "missed",
    "path": str(FIXTURES / "in_answered.all.ami"),
}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]

    def __str__(self) -> str:
        return "pbx-sms " + " ".join(repr(arg) if len(arg) < 40 else f"<{len(arg)} chars>" for arg in self.args)


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in sorted(subcommands.items()):
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


def _bare_type(param: Any) -> Any:
    annotation = param.type_descriptor.annotation
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    while args and typing.get_origin(annotation) is not None:
        annotation = args[0]
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return annotation


def _values(param: Any) -> list[str | None]:
    """The hostile values for one parameter; None means "the flag alone"."""
    if getattr(param, "is_flag", False):
        return [None]
    kind = _bare_type(param)
    if kind is int:
        return list(INTEGERS)
    if kind in (str, Path) or (isinstance(kind, type) and issubclass(kind, enum.Enum)):
        return list(TEXTS)
    raise AssertionError(f"{param.name}: no hostile values for type {kind!r}; add them to this test")


def _invocation(path: tuple[str, ...], params: list[Any], tested: Any, value: str | None, flag: str) -> Case:
    options: list[str] = []
    positional: list[str] = []
    for param in params:
        if param is tested:
            values = [] if value is None else [value]
        elif param.required:
            assert param.name in REQUIRED, f"pbx-sms {' '.join(path)}: add a valid {param.name} to REQUIRED"
            values = [REQUIRED[param.name]]
        else:
            continue
        if param.param_type_name == "argument":
            positional.extend(values)
        else:
            options.extend([flag if param is tested else param.opts[0], *values])
    return Case((*path, *positional, *options))


def all_cases() -> list[Case]:
    root = get_command(app)
    cases = [Case(("--config", value, "accounts", "list")) for value in TEXTS]
    for path, command in _commands(root):
        params = list(command.params)
        if not params:
            cases.append(Case(path))
        for param in params:
            flags = [param.name] if param.param_type_name == "argument" else [*param.opts, *param.secondary_opts]
            for flag in flags:
                for value in _values(param):
                    cases.append(_invocation(path, params, param, value, flag))
    return cases


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('boundaries') / 'pbx-sms.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin_dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        scoped = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def _no_daemon(*_args: object, **_kwargs: object) -> None:
    return None


def test_every_option_of_every_command_survives_hostile_values(
    shared_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules.yaml").write_text(RULE_FILE, encoding="utf-8")
    monkeypatch.setattr("pbx_sms.daemon.run.run_daemon", _no_daemon)
    monkeypatch.setattr("pbx_sms.outbox.runner.run_worker", _no_daemon)
    # `web` binds its socket (hostile hosts and ports meet the real checks), then serves nothing.
    monkeypatch.setattr("uvicorn.Server.run", lambda *_args, **_kwargs: None)
    # Logging set up on a runner's stream would outlive it: later commands would log to a closed file.
    for module in ("pbx_sms.logs", "pbx_sms.cli.outbox"):
        monkeypatch.setattr(f"{module}.setup_logging", lambda *_args, **_kwargs: None)
    runner = CliRunner()
    env = admin_env(shared_database)
    cases = all_cases()
    assert len(cases) > 400, "the app's commands were not all found"
    failures: list[str] = []
    for case in cases:
        result = runner.invoke(app, list(case.args), env=env)
        problem = None
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            last_line = "".join(traceback.format_exception(result.exception)).rstrip().splitlines()[-1]
            problem = last_line if len(last_line) < 200 else last_line[:200] + "..."
        elif "Traceback" in result.output:
            problem = "printed a traceback:\n" + result.output
        elif result.exit_code not in (0, 1, 2):
            problem = f"exit code {result.exit_code}"
        if problem:
            failures.append(f"{case}: {problem}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)
