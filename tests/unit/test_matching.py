"""Rule matching: conditions, recipients and suppression reasons, rendered text, due time, compiled rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import ROOT

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.encoding import analyse, transliterate
from pbx_sms.core.matching import (
    AccountPolicy,
    CompiledRule,
    compile_rule,
    compile_rules,
    compiled,
    match_call,
)
from pbx_sms.core.reasons import MATCHER_REASONS
from pbx_sms.core.rules import Rule
from pbx_sms.core.template import call_values, render

COMPANY = "+48221234567"
MOBILE = "+48601234567"
MANAGER = "+48600100100"
WARSAW = AccountPolicy(name="default", timezone="Europe/Warsaw", country="PL")
# Wednesday 2026-11-25 10:00 in Warsaw (UTC+1).
END = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DOCS = ROOT / "docs" / "rules.md"


def make_rule(**changes: Any) -> Rule:
    data: dict[str, Any] = {
        "name": "Missed",
        "when": {"direction": "in", "numbers": [COMPANY], "status": ["no_answer", "busy"]},
        "then": {"sender": "ACME", "to": ["other_party"], "text": "Oddzwonimy"},
    }
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return Rule.model_validate(data)


def make_call(**changes: Any) -> CompletedCall:
    values: dict[str, Any] = {
        "call_id": "c1",
        "direction": "in",
        "number": COMPANY,
        "other_party": MOBILE,
        "status": "no_answer",
        "talk_s": 0,
        "started_at": END - timedelta(seconds=30),
        "ended_at": END,
    }
    values.update(changes)
    return CompletedCall(**values)


def reasons(call: CompletedCall, *rules: Rule, account: AccountPolicy = WARSAW) -> list[str | None]:
    return [sms.reason for sms in match_call(call, account, list(rules))]


class TestConditions:
    def test_matching_call_yields_one_sms(self) -> None:
        (sms,) = match_call(make_call(), WARSAW, [make_rule()])
        assert (sms.rule, sms.to, sms.sender, sms.text, sms.reason) == ("Missed", MOBILE, "ACME", "Oddzwonimy", None)
        assert (sms.encoding, sms.parts) == ("GSM-7", 1)

    @pytest.mark.parametrize(
        ("rule_direction", "call_direction", "fires"),
        [
            ("in", "in", True),
            ("in", "out", False),
            ("out", "out", True),
            ("out", "in", False),
            ("any", "in", True),
            ("any", "out", True),
            ("any", "internal", False),
        ],
    )
    def test_direction(self, rule_direction: str, call_direction: str, fires: bool) -> None:
        rule = make_rule(**{"when.direction": rule_direction, "when.numbers": "all"})
        assert bool(match_call(make_call(direction=call_direction), WARSAW, [rule])) is fires

    def test_internal_calls_never_match_even_with_all(self) -> None:
        rule = make_rule(**{"when.direction": "any", "when.numbers": "all", "when.status": ["answered", "no_answer"]})
        assert match_call(make_call(direction="internal", number=None, other_party="101"), WARSAW, [rule]) == []

    def test_numbers(self) -> None:
        assert match_call(make_call(number="+48221234568"), WARSAW, [make_rule()]) == []
        assert match_call(make_call(number=None), WARSAW, [make_rule()]) == []
        everything = make_rule(**{"when.numbers": "all"})
        assert len(match_call(make_call(number="+48221234568"), WARSAW, [everything])) == 1
        several = make_rule(**{"when.numbers": [COMPANY, "+48221234568"]})
        assert len(match_call(make_call(number="+48221234568"), WARSAW, [several])) == 1

    @pytest.mark.parametrize(
        ("status", "fires"), [("no_answer", True), ("busy", True), ("answered", False), ("failed", False)]
    )
    def test_status(self, status: str, fires: bool) -> None:
        assert bool(match_call(make_call(status=status), WARSAW, [make_rule()])) is fires

    @pytest.mark.parametrize(("talk_s", "fires"), [(9, False), (10, True), (30, True), (31, False)])
    def test_talk_bounds_inclusive(self, talk_s: int, fires: bool) -> None:
        rule = make_rule(**{"when.status": ["answered"], "when.talk_s": {"min": 10, "max": 30}})
        assert bool(match_call(make_call(status="answered", talk_s=talk_s), WARSAW, [rule])) is fires

    def test_only_one_bound(self) -> None:
        at_least = make_rule(**{"when.status": ["answered"], "when.talk_s": {"min": 60}})
        assert match_call(make_call(status="answered", talk_s=10**6), WARSAW, [at_least])
        at_most = make_rule(**{"when.status": ["answered"], "when.talk_s": {"max": 5}})
        assert match_call(make_call(status="answered", talk_s=0), WARSAW, [at_most])

    def test_disabled_rules_never_fire(self) -> None:
        rule = make_rule().model_copy(update={"enabled": False})
        assert match_call(make_call(), WARSAW, [rule]) == []

    def test_schedule_is_evaluated_at_call_end_in_account_zone(self) -> None:
        office = make_rule(**{"when.schedule": {"weekdays": ["wed"], "hours": [{"from": "10:00", "to": "18:00"}]}})
        assert match_call(make_call(ended_at=END), WARSAW, [office])  # 10:00 Warsaw
        assert not match_call(make_call(ended_at=END - timedelta(seconds=1)), WARSAW, [office])  # 09:59:59
        utc_account = AccountPolicy(name="x", timezone="UTC", country="PL")
        assert not match_call(make_call(ended_at=END), utc_account, [office])  # 09:00 UTC
        # The start time does not matter: a call from 09:00 to 10:05 local ends inside the window.
        assert match_call(make_call(started_at=END - timedelta(hours=1), ended_at=END), WARSAW, [office])

    def test_night_window_over_dst_change(self) -> None:
        # Saturday 2026-10-24 22:00 to Sunday 06:00; the clocks go back at 03:00 that night.
        night = make_rule(**{"when.schedule": {"weekdays": ["sat"], "hours": [{"from": "22:00", "to": "06:00"}]}})
        inside = datetime(2026, 10, 25, 4, 59, tzinfo=UTC)  # 05:59 CET
        outside = datetime(2026, 10, 25, 5, 0, tzinfo=UTC)  # 06:00 CET (would be 07:00 in CEST)
        assert match_call(make_call(ended_at=inside), WARSAW, [night])
        assert not match_call(make_call(ended_at=outside), WARSAW, [night])

    def test_rules_in_order_each_recipient_once(self) -> None:
        first = make_rule(name="A", **{"then.to": ["other_party", MANAGER]})
        second = make_rule(name="B")
        planned = match_call(make_call(), WARSAW, [first, second])
        assert [(sms.rule, sms.to) for sms in planned] == [("A", MOBILE), ("A", MANAGER), ("B", MOBILE)]


class TestRecipients:
    @pytest.mark.parametrize(
        ("other_party", "to", "reason"),
        [
            ("anonymous", "anonymous", "anonymous"),
            ("Restricted", "Restricted", "anonymous"),
            ("", "", "anonymous"),
            ("101", "101", "internal_number"),
            ("12", "12", "internal_number"),
            ("+4812", "+4812", "invalid_number"),
            ("garbage", "garbage", "invalid_number"),
            ("+48221234568", "+48221234568", "landline"),
            ("+48800123456", "+48800123456", "not_mobile"),
            ("+491701234567", "+491701234567", "country_not_allowed"),
            ("+4930123456", "+4930123456", "country_not_allowed"),
            ("601234567", MOBILE, None),
        ],
    )
    def test_other_party(self, other_party: str, to: str, reason: str | None) -> None:
        (sms,) = match_call(make_call(other_party=other_party), WARSAW, [make_rule()])
        assert (sms.to, sms.reason) == (to, reason)
        assert sms.to_other_party

    def test_allowed_countries(self) -> None:
        europe = AccountPolicy(
            name="x", timezone="Europe/Warsaw", country="PL", allowed_countries=frozenset({"pl", "DE"})
        )
        assert reasons(make_call(other_party="+491701234567"), make_rule(), account=europe) == [None]
        assert reasons(make_call(other_party="+4930123456"), make_rule(), account=europe) == ["landline"]
        germany_only = AccountPolicy(
            name="x", timezone="Europe/Berlin", country="PL", allowed_countries=frozenset({"DE"})
        )
        assert reasons(make_call(), make_rule(), account=germany_only) == ["country_not_allowed"]

    def test_empty_allowed_countries_means_own_country(self) -> None:
        assert WARSAW.allowed_countries == frozenset({"PL"})
        assert AccountPolicy(name="x", timezone="UTC", country="de").allowed_countries == frozenset({"DE"})

    def test_fixed_recipient_may_be_a_landline_but_not_abroad(self) -> None:
        rule = make_rule(**{"then.to": ["+48221234568", "+491701234567", MANAGER]})
        planned = match_call(make_call(other_party="anonymous"), WARSAW, [rule])
        assert [(sms.to, sms.reason, sms.to_other_party) for sms in planned] == [
            ("+48221234568", None, False),
            ("+491701234567", "country_not_allowed", False),
            (MANAGER, None, False),
        ]

    def test_service_inactive_suppresses_everything(self) -> None:
        inactive = AccountPolicy(name="x", timezone="Europe/Warsaw", country="PL", sms_enabled=False)
        rule = make_rule(**{"then.to": ["other_party", MANAGER]})
        assert reasons(make_call(), rule, account=inactive) == ["sms_service_inactive", "sms_service_inactive"]
        assert reasons(make_call(other_party="anonymous"), rule, account=inactive)[0] == "sms_service_inactive"

    def test_min_interval_applies_to_the_other_party_and_to_fixed_recipients(self) -> None:
        # A fixed recipient's interval counts per caller in the outbox (before: 0, never throttled).
        rule = make_rule(**{"then.to": ["other_party", MANAGER], "then.min_interval_s": 86400})
        other, manager = match_call(make_call(), WARSAW, [rule])
        assert (other.to_other_party, other.min_interval_s) == (True, 86400)
        assert (manager.to_other_party, manager.min_interval_s) == (False, 86400)

    @pytest.mark.parametrize(
        ("statuses", "cancel"),
        [
            (["no_answer"], True),
            (["no_answer", "busy", "failed"], True),
            (["answered"], False),
            (["answered", "busy"], False),
        ],
    )
    def test_cancel_on_reach_marks_missed_call_rules(self, statuses: list[str], cancel: bool) -> None:
        rule = make_rule(**{"when.status": statuses})
        (sms,) = match_call(make_call(status=statuses[-1]), WARSAW, [rule])
        assert sms.cancel_on_reach is cancel


class TestText:
    def test_placeholders_rendered_in_account_zone(self) -> None:
        text = "{other_party}|{number}|{direction}|{status}|{talk_s}|{talk_min}|{date}|{time}|{rule}|{{x}}"
        rule = make_rule(name="Thanks", **{"then.text": text, "when.status": ["answered"]})
        ended = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 00:30 on the 26th in Warsaw
        (sms,) = match_call(make_call(status="answered", talk_s=61, ended_at=ended), WARSAW, [rule])
        assert sms.text == f"{MOBILE}|{COMPANY}|in|answered|61|2|2026-11-26|00:30|Thanks|{{x}}"

    def test_polish_text_is_ucs2(self) -> None:
        (sms,) = match_call(make_call(), WARSAW, [make_rule(**{"then.text": "Przepraszamy, nie odebraliśmy"})])
        assert (sms.encoding, sms.parts) == ("UCS-2", 1)

    def test_transliteration_keeps_gsm7(self) -> None:
        rule = make_rule(**{"then.text": "Zażółć gęślą jaźń {other_party}", "then.transliterate": True})
        (sms,) = match_call(make_call(), WARSAW, [rule])
        assert sms.text == f"Zazolc gesla jazn {MOBILE}"
        assert sms.encoding == "GSM-7"

    def test_max_parts(self) -> None:
        long_polish = "ą" * 71  # 2 UCS-2 parts
        (over,) = match_call(make_call(), WARSAW, [make_rule(**{"then.text": long_polish, "then.max_parts": 1})])
        assert (over.parts, over.reason) == (2, "too_many_parts")
        (fits,) = match_call(make_call(), WARSAW, [make_rule(**{"then.text": long_polish, "then.max_parts": 2})])
        assert fits.reason is None
        transliterated = make_rule(**{"then.text": long_polish, "then.max_parts": 1, "then.transliterate": True})
        assert reasons(make_call(), transliterated) == [None]

    def test_max_parts_depends_on_rendered_text(self) -> None:
        short = make_rule(name="Short", **{"then.text": "x" * 150 + "{rule}", "then.max_parts": 1})
        long = make_rule(name="Much longer", **{"then.text": "x" * 150 + "{rule}", "then.max_parts": 1})
        fits, over = match_call(make_call(), WARSAW, [short, long])
        assert (fits.parts, fits.reason) == (1, None)  # 155 septets
        assert (over.parts, over.reason) == (2, "too_many_parts")  # 161 septets

    def test_recipient_reason_wins_over_too_many_parts(self) -> None:
        rule = make_rule(**{"then.text": "ą" * 100, "then.max_parts": 1})
        assert reasons(make_call(other_party="anonymous"), rule) == ["anonymous"]

    def test_due_at_is_end_plus_delay(self) -> None:
        (sms,) = match_call(make_call(), WARSAW, [make_rule(**{"then.delay_s": 90})])
        assert sms.due_at == END + timedelta(seconds=90)
        (now,) = match_call(make_call(), WARSAW, [make_rule()])
        assert now.due_at == END


class TestCompiled:
    def test_compiled_once_per_rule(self) -> None:
        rule = make_rule()
        assert compiled(rule) is compiled(rule)
        assert rule == make_rule()  # the cache does not change equality

    def test_compiled_rules_give_the_same_result(self) -> None:
        rules = [
            make_rule(name="static", **{"then.text": "Stały tekst {{x}}"}),
            make_rule(
                name="dynamic", **{"then.text": "Dla {other_party} o {time}", "then.to": ["other_party", MANAGER]}
            ),
            make_rule(name="night", **{"when.schedule": {"hours": [{"from": "22:00", "to": "06:00"}]}}),
        ]
        compiled_rules = compile_rules(rules)
        assert all(isinstance(rule, CompiledRule) for rule in compiled_rules)
        for ended in (END, END + timedelta(hours=13), END + timedelta(hours=20)):
            call = make_call(ended_at=ended)
            assert match_call(call, WARSAW, compiled_rules) == match_call(call, WARSAW, rules)

    def test_static_text_precomputed(self) -> None:
        assert compile_rule(make_rule(**{"then.text": "Stały {{x}}"})).static == ("Stały {x}", "UCS-2", 1)
        assert compile_rule(make_rule(**{"then.text": "Hi {rule}"})).static is None

    def test_empty_schedule_compiles_to_always(self) -> None:
        assert compile_rule(make_rule(**{"when.schedule": {}})).windows is None


template_pieces = st.lists(
    st.sampled_from(
        [
            "Zażółć ",
            "gęślą ",
            "jaźń",
            "{other_party}",
            "{rule}",
            "{{",
            "}}",
            "€",
            "x",
            "„cytat”",
            " — ",
            "🙂",
            "\u0328",
            "ﬁ",
            "\uff5b\uff5b",
        ]
    ),
    min_size=1,
    max_size=12,
)
rule_names = st.sampled_from(["Łódź", "Plain", "Ünïcödé", "e", "ą"])


@settings(max_examples=200)
@given(pieces=template_pieces, name=rule_names, other=st.sampled_from([MOBILE, "anonymous", "Łukasz", "a\u0301"]))
def test_transliterated_text_equals_transliterating_the_rendered_text(pieces: list[str], name: str, other: str) -> None:
    template = "".join(pieces)
    rule = make_rule(name=name, **{"then.text": template, "then.transliterate": True})
    call = make_call(other_party=other)
    (sms,) = match_call(call, WARSAW, [rule])
    expected = transliterate(render(template, call_values(call, name, WARSAW.timezone)))
    assert sms.text == expected
    assert (sms.encoding, sms.parts) == (analyse(expected).encoding, analyse(expected).parts)


def test_every_reason_is_documented() -> None:
    documented = DOCS.read_text(encoding="utf-8")
    for code in MATCHER_REASONS:
        assert re.search(rf"`{code}`", documented), code
    produced = {
        reason
        for other in ("anonymous", "101", "x", "+48221234568", "+48800123456", "+491701234567", MOBILE)
        for reason in reasons(make_call(other_party=other), make_rule(**{"then.text": "ą" * 80, "then.max_parts": 1}))
    }
    assert produced <= MATCHER_REASONS


class TestEvidence:
    def test_a_rule_acts_on_calls_seen_in_part_by_default(self) -> None:
        rule = make_rule()
        assert rule.when.evidence == ["full", "hook", "gap", "cdr", "hint"]
        assert reasons(make_call(evidence="gap"), rule) == reasons(make_call(evidence="cdr"), rule) == [None]

    def test_a_rule_may_leave_out_calls_seen_in_part(self) -> None:
        rule = make_rule(**{"when.evidence": ["gap", "full"]})
        assert rule.when.evidence == ["full", "gap"]  # kept in a fixed order
        assert reasons(make_call(evidence="full"), rule) == reasons(make_call(evidence="gap"), rule) == [None]
        assert reasons(make_call(evidence="cdr"), rule) == []
        assert reasons(make_call(evidence="cdr"), make_rule(**{"when.evidence": ["full"]}), make_rule()) == [None]
