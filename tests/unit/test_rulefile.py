"""YAML rule files: the issue's example, every problem reported with file/line/field, deterministic dumps."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from paths import ROOT

from pbx_sms.core.rulefile import RuleFileError, RuleFileInvalid, dump_rule_file, load_rule_file, parse_rule_text

RULES_DIR = ROOT / "rules"

ISSUE_EXAMPLE = """\
account: default
rules:
  - name: Missed call - call back info
    enabled: true
    when:
      direction: in                    # in | out | any (= in or out; internal calls never match)
      numbers: ["+48221234567"]        # company numbers, or: all
      status: [no_answer, busy]        # answered | no_answer | busy | failed
      talk_s: {min: 0, max: 30}        # optional bounds, seconds, inclusive
      schedule:                        # optional; all parts optional
        dates: [{from: 2026-12-01, to: 2026-12-24}]   # inclusive
        weekdays: [mon, tue, wed, thu, fri]
        hours: [{from: "18:00", to: "08:00"}]         # from inclusive, to exclusive; may cross midnight
    then:
      sender: ACME
      to: [other_party, "+48600100100"]  # other_party = caller of an incoming call, callee of an outgoing one
      text: "Przepraszamy, nie odebraliśmy połączenia na {number}. Oddzwonimy!"
      delay_s: 60
      min_interval_s: 86400            # per other party: no second SMS from this rule to them within this time
      max_parts: 2                     # optional
      transliterate: false             # optional: replace characters GSM-7 lacks (ą→a, ł→l ...)
"""


# Lines 1-3 of a one-rule file; tests add the "then:" part from line 4 on.
HEAD = "rules:\n  - name: x\n    when: {direction: in, numbers: all, status: [busy]}\n"


def problems(text: str, source: str = "r.yaml") -> list[RuleFileError]:
    with pytest.raises(RuleFileInvalid) as caught:
        parse_rule_text(text, source)
    return caught.value.errors


def where(text: str) -> list[tuple[int | None, str]]:
    return [(error.line, error.field) for error in problems(text)]


def test_issue_example_loads() -> None:
    rule_file = parse_rule_text(ISSUE_EXAMPLE, "example.yaml")
    assert rule_file.account == "default"
    (rule,) = rule_file.rules
    assert rule.name == "Missed call - call back info"
    assert rule.when.numbers == ["+48221234567"]
    assert rule.when.talk_s is not None and (rule.when.talk_s.min, rule.when.talk_s.max) == (0, 30)
    assert rule.when.schedule is not None and rule.when.schedule.dates is not None
    assert (rule.when.schedule.dates[0].from_, rule.when.schedule.dates[0].to) == (
        date(2026, 12, 1),
        date(2026, 12, 24),
    )
    assert rule.when.schedule.hours is not None and rule.when.schedule.hours[0].to == "08:00"
    assert rule.then.to == ["other_party", "+48600100100"]
    assert (rule.then.delay_s, rule.then.min_interval_s, rule.then.max_parts) == (60, 86400, 2)


@pytest.mark.parametrize("path", sorted(RULES_DIR.glob("*.yaml")), ids=lambda path: path.name)
def test_example_rule_files_are_valid_and_round_trip(path: Path) -> None:
    rule_file = load_rule_file(path)
    assert rule_file.rules
    dumped = dump_rule_file(rule_file)
    again = parse_rule_text(dumped, "dumped")
    assert again == rule_file
    assert dump_rule_file(again) == dumped


def test_at_least_three_example_files_cover_the_typical_uses() -> None:
    texts = {path.name: path.read_text(encoding="utf-8") for path in RULES_DIR.glob("*.yaml")}
    assert len(texts) >= 3
    statuses = [rule.when.status for path in RULES_DIR.glob("*.yaml") for rule in load_rule_file(path).rules]
    assert any(status == ["answered"] for status in statuses)
    assert any({"no_answer", "busy"} <= set(status) for status in statuses)
    assert any("www." in text or "https://" in text for text in texts.values())


def test_several_bad_rules_all_reported_with_lines() -> None:
    text = """\
account: default
rules:
  - name: First
    when:
      direction: inn
      numbers: ["+48221234567", "221234567"]
      status: [no_answer]
    then:
      sender: ACME
      to: [other_party]
      text: "ok"
      delay: 60
  - name: Second
    when:
      direction: in
      numbers: all
      status: []
      schedule:
        hours: [{from: 18:00, to: "08:00"}]
    then:
      sender: TOO LONG SENDER
      to: [other_party]
      text: "Hi {nmber}"
  - name: First
    when: {direction: out, numbers: all, status: [answered]}
    then: {sender: ACME, to: [+48600100100], text: "x"}
"""
    errors = problems(text)
    assert [(error.line, error.field) for error in errors] == [
        (5, "rules[0].when.direction"),
        (6, "rules[0].when.numbers[1]"),
        (12, "rules[0].then.delay"),
        (17, "rules[1].when.status"),
        (19, "rules[1].when.schedule.hours[0].from"),
        (21, "rules[1].then.sender"),
        (23, "rules[1].then.text"),
        (24, "rules[2].name"),
        (26, "rules[2].then.to[0]"),
    ]
    messages = {error.field: error.message for error in errors}
    assert "'inn'" in messages["rules[0].when.direction"]
    assert "did you mean 'delay_s'" in messages["rules[0].then.delay"]
    assert 'write "18:00"' in messages["rules[1].when.schedule.hours[0].from"]
    assert "{number}" in messages["rules[1].then.text"]
    assert "duplicate rule name 'First'" in messages["rules[2].name"]
    assert "quotes" in messages["rules[2].then.to[0]"]


def test_error_prints_file_line_field_message() -> None:
    text = HEAD + '    then: {sender: ACME, to: [other_party], text: "x", delay_s: -1}\n'
    (error,) = problems(text, "rules/bad.yaml")
    assert str(error) == "rules/bad.yaml:4: rules[0].then.delay_s: expected greater than or equal to 0, got -1"
    with pytest.raises(RuleFileInvalid) as caught:
        parse_rule_text(text, "rules/bad.yaml")
    assert str(caught.value) == str(error)


def test_yaml_syntax_error_names_its_line() -> None:
    (error,) = problems("account: default\nrules:\n  - name: x\n    when: [unclosed\n")
    assert error.line is not None and error.line >= 4
    assert error.message.startswith("invalid YAML")


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("# only a comment\n", "empty"), ("- a\n- b\n", "mapping"), ("just text\n", "mapping")],
)
def test_not_a_rule_file(text: str, message: str) -> None:
    (error,) = problems(text)
    assert message in error.message


def test_missing_and_wrong_top_level() -> None:
    assert where("account: default\n") == [(1, "rules")]
    assert [e.message for e in problems("rules: {a: 1}\n")] == ["expected a list, got a mapping"]
    (error,) = problems("account: default\nrules: []\ncolour: red\n")
    assert (error.line, error.field) == (3, "colour")
    assert "allowed here: account, rules" in error.message


def test_duplicate_yaml_keys_are_errors() -> None:
    text = HEAD + '    then:\n      sender: ACME\n      to: [other_party]\n      text: "a"\n      text: "b"\n'
    (error,) = problems(text)
    assert (error.line, error.field) == (8, "rules[0].then.text")
    assert "line 7" in error.message


def test_impossible_date_is_located() -> None:
    text = (
        "rules:\n  - name: x\n    when:\n      direction: in\n      numbers: all\n      status: [busy]\n"
        "      schedule:\n        dates: [{from: 2026-02-30, to: 2026-03-01}]\n"
        '    then: {sender: ACME, to: [other_party], text: "a"}\n'
    )
    (error,) = problems(text)
    assert (error.line, error.field) == (8, "rules[0].when.schedule.dates[0].from")
    assert "YYYY-MM-DD" in error.message and "2026-02-30" in error.message


def test_yaml_boolean_word_where_text_expected() -> None:
    text = HEAD + '    then: {sender: NO, to: [other_party], text: "a"}\n'
    (error,) = problems(text)
    assert error.field == "rules[0].then.sender" and "boolean" in error.message


def test_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(RuleFileInvalid) as caught:
        load_rule_file(tmp_path / "nope.yaml")
    (error,) = caught.value.errors
    assert error.file.endswith("nope.yaml") and "cannot read" in error.message
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("rules: []\n# za\xbf\xf3\xb3\xe6\n".encode("latin-1"))
    with pytest.raises(RuleFileInvalid, match="UTF-8"):
        load_rule_file(latin)


def test_dump_quotes_times_and_numbers_and_keeps_multiline_text() -> None:
    text = ISSUE_EXAMPLE.replace(
        'text: "Przepraszamy, nie odebraliśmy połączenia na {number}. Oddzwonimy!"',
        'text: "Linia 1\\nLinia 2 {{literal}}"',
    ).replace(
        'hours: [{from: "18:00", to: "08:00"}]', 'hours: [{from: "18:00", to: "08:00"}, {from: "8:00", to: "9:30"}]'
    )
    rule_file = parse_rule_text(text)
    dumped = dump_rule_file(rule_file)
    assert 'from: "18:00"' in dumped and 'from: "08:00"' in dumped and 'to: "09:30"' in dumped
    assert "'+48221234567'" in dumped  # an unquoted +48... would read back as a number
    assert "text: |-\n      Linia 1\n      Linia 2 {{literal}}\n" in dumped
    assert "status: [no_answer, busy]" in dumped
    assert parse_rule_text(dumped) == rule_file


def test_empty_rule_list_is_a_valid_file() -> None:
    rule_file = parse_rule_text("account: shop\nrules: []\n")
    assert (rule_file.account, rule_file.rules) == ("shop", [])
    assert parse_rule_text(dump_rule_file(rule_file)) == rule_file


def test_evidence_chooses_the_calls_seen_in_part_a_rule_acts_on_and_round_trips() -> None:
    then = '    then: {sender: ACME, to: [other_party], text: "x"}\n'
    when = "    when: {direction: in, numbers: all, status: [busy], evidence: [full]}\n"
    rule_file = parse_rule_text("rules:\n  - name: x\n" + when + then, "r.yaml")
    assert rule_file.rules[0].when.evidence == ["full"]
    assert "    evidence: [full]\n" in dump_rule_file(rule_file)
    assert parse_rule_text(dump_rule_file(rule_file), "again.yaml") == rule_file
    everything = parse_rule_text(HEAD + then, "r.yaml")
    assert everything.rules[0].when.evidence == ["full", "hook", "gap", "cdr", "hint"]
    assert "evidence" not in dump_rule_file(everything)  # the default is left out, as before
    (error,) = problems(HEAD.replace("[busy]}", "[busy], evidence: [partial]}") + then)
    assert error.line == 3 and error.field == "rules[0].when.evidence[0]"
    assert "'full', 'gap', 'cdr', 'hook' or 'hint'" in error.message
