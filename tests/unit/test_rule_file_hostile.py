"""Rule files and rule values built to hurt: aliases, deep nesting, NUL and control characters, numbers
past what the database stores. Each is refused with the file, line and field, quickly."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx_sms.core.rulefile import RuleFileError, RuleFileInvalid, load_rule_file, parse_rule_text

RULE = """\
rules:
  - name: {name}
    when: {{direction: in, numbers: all, status: [busy]}}
    then:
      sender: ACME
      to: [other_party]
      text: {text}
      delay_s: {delay_s}
"""
# 6 levels of 9 aliases each: half a million strings once expanded, from 247 bytes (9 levels make 387 million,
# refused the same way: at the first alias, before anything is expanded).
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{name}: &{name} [{','.join(['*' + previous] * 9)}]\n" for previous, name in zip("abcde", "bcdef", strict=True)
    )
    + "rules: []\n"
)


def errors(text: str) -> list[RuleFileError]:
    with pytest.raises(RuleFileInvalid) as caught:
        parse_rule_text(text, "bad.yaml")
    return caught.value.errors


def rule(name: str = "Busy", text: str = '"We will call back"', delay_s: str = "0") -> str:
    return RULE.format(name=name, text=text, delay_s=delay_s)


def test_an_alias_is_refused_with_its_line() -> None:
    (error,) = errors("account: &name default\nx: *name\nrules: []\n")
    assert (error.line, error.message) == (
        2,
        "invalid YAML: aliases (*name) are not allowed in rule files: write the value out",
    )


def test_the_alias_bomb_is_refused_at_its_first_alias() -> None:
    (error,) = errors(ALIAS_BOMB)
    assert error.line == 2 and "aliases (*a) are not allowed" in error.message


def test_a_merge_key_needs_an_alias_and_is_refused_too() -> None:
    text = (
        rule().replace("    then:\n", "    then: &then\n")
        + "  - name: Copy\n    when: {direction: in, numbers: all, status: [busy]}\n    then: {<<: *then}\n"
    )
    assert "aliases (*then)" in errors(text)[0].message


@pytest.mark.parametrize(
    "text",
    ["rules: " + "[" * 100_000 + "]" * 100_000, "rules:\n" + "".join("  " * depth + "-\n" for depth in range(1, 3000))],
    ids=["flow", "block"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(text: str) -> None:
    (error,) = errors(text)
    assert error.message == "invalid YAML: nested deeper than 20 levels"


def test_the_depth_of_a_rule_with_a_schedule_is_fine() -> None:
    text = (
        "rules:\n  - name: Busy\n    when:\n      direction: in\n      numbers: all\n      status: [busy]\n"
        '      schedule:\n        hours:\n          - from: "08:00"\n            to: "16:00"\n'
        '    then: {sender: ACME, to: [other_party], text: "Hi"}\n'
    )
    assert parse_rule_text(text).rules[0].when.schedule is not None


def test_a_nul_in_the_text_is_refused_with_the_line() -> None:
    (error,) = errors(rule(text='"call \\0 back"'))
    assert (error.line, error.field) == (7, "rules[0].then.text")
    assert error.message == "must not contain a NUL character (\\x00)"


@pytest.mark.parametrize("escape", ["\\e[31m", "\\a", "\\x9b"])
def test_control_characters_in_the_text_are_refused(escape: str) -> None:
    (error,) = errors(rule(text=f'"call {escape} back"'))
    assert error.field == "rules[0].then.text" and "control characters" in error.message


def test_line_breaks_and_tabs_in_the_text_are_text() -> None:
    assert parse_rule_text(rule(text='"Thank you.\\r\\nCall\\tus"')).rules[0].then.text == "Thank you.\r\nCall\tus"


@pytest.mark.parametrize("name", ['"Busy \\e[2J"', '"Busy \\0"', '"Busy\\u2028x"'])
def test_control_characters_in_a_rule_name_are_refused(name: str) -> None:
    (error,) = errors(rule(name=name))
    assert (error.line, error.field) == (2, "rules[0].name")


def test_control_characters_in_the_account_are_refused() -> None:
    (error,) = errors('account: "acme\\e]0;owned\\a"\n' + rule())
    assert (error.line, error.field) == (1, "account")


@pytest.mark.parametrize("value", ["2147483648", "99999999999999999999999"])
def test_seconds_past_an_integer_column_are_refused(value: str) -> None:
    (error,) = errors(rule(delay_s=value))
    assert (error.line, error.field) == (8, "rules[0].then.delay_s")
    assert "less than or equal to 2147483647" in error.message


def test_a_path_with_a_nul_cannot_be_read() -> None:
    with pytest.raises(RuleFileInvalid) as caught:
        load_rule_file(Path("rules\0.yaml"))
    assert caught.value.errors[0].message == "cannot read the file: no such file"
