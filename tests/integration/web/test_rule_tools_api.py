"""Preview, simulate and backtest over the API: answers, 422 with field paths, access and tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from backtest_seed import DAYS, EXPECTED, RULE_DOCUMENT, seed_calls
from panel_world import polish_reader
from web_world import WebWorld, web_world

from pbx_sms.core.rulefile import check_rule_document
from pbx_sms.manage.rule_views import SAMPLE_VALUES
from pbx_sms.storage.numbers import add_sender
from pbx_sms.storage.rule_store import RuleSource, import_rules

ACME = "/api/v1/accounts/acme"
PREVIEW = f"{ACME}/rules/preview"
SIMULATE = f"{ACME}/simulate"
BACKTEST = f"{ACME}/rules/backtest"
CALL = {"direction": "in", "number": "+48221234567", "other": "+48600100001", "status": "no_answer"}


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


@pytest.fixture
def seeded(web: WebWorld) -> WebWorld:
    seed_calls(web.database, datetime.now(UTC))
    with web.database.write_session() as session:
        add_sender(session, "ACME", "acme")
        import_rules(session, [RuleSource("test", "acme", [check_rule_document(RULE_DOCUMENT)])])
    return web


def fields(answer: Any) -> dict[str | None, str]:
    assert answer.status_code == 422, answer.text
    return {error["field"]: error["message"] for error in answer.json()["errors"]}


# --- preview ---------------------------------------------------------------------------------------


def test_a_viewer_previews_a_text_with_sample_and_given_values(web: WebWorld) -> None:
    body = {"text": "Dzięki za telefon z {other_party} o {time} €", "call": {"time": "09:30"}}
    answer = web.as_("acme-viewer").post(PREVIEW, json=body)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["text"] == f"Dzięki za telefon z {SAMPLE_VALUES['other_party']} o 09:30 €"
    assert (data["encoding"], data["parts"], data["problems"]) == ("UCS-2", 1, [])
    assert data["characters"] == len(data["text"])
    assert data["left_in_last_part"] == 70 - data["characters"]
    assert data["ucs2_characters"] == [{"character": "ę", "positions": [3]}]
    transliterated = data["transliterated"]
    assert transliterated["text"].startswith("Dzieki za telefon")
    # GSM-7 with transliteration: € takes 2 septets.
    assert (transliterated["encoding"], transliterated["characters"]) == ("GSM-7", len(data["text"]) + 1)
    assert transliterated["ucs2_characters"] == []


def test_with_transliterate_the_text_is_as_it_would_go(web: WebWorld) -> None:
    data = web.as_("acme-viewer").post(PREVIEW, json={"text": "Dzięki", "transliterate": True}).json()
    assert (data["text"], data["encoding"]) == ("Dzieki", "GSM-7")


def test_an_unknown_placeholder_is_a_problem_not_an_error(web: WebWorld) -> None:
    answer = web.as_("acme-viewer").post(PREVIEW, json={"text": "Hi {nmber}"})
    assert answer.status_code == 200
    problems = answer.json()["problems"]
    assert [problem["field"] for problem in problems] == ["text"]
    assert "did you mean {number}?" in problems[0]["message"]


def test_the_previews_problems_are_in_the_callers_language(web: WebWorld) -> None:
    polish_reader(web.database, "acme-viewer")
    problems = web.as_("acme-viewer").post(PREVIEW, json={"text": "Hi {nmber}"}).json()["problems"]
    assert "nieznane pole {nmber}" in problems[0]["message"] and "czy chodziło o {number}?" in problems[0]["message"]
    english = web.as_("acme-admin").post(PREVIEW, json={"text": "Hi {nmber}"}).json()["problems"]
    assert english[0]["message"].startswith("column 4: unknown placeholder {nmber}")


def test_preview_body_errors_name_the_field(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    assert "call.nme" in fields(admin.post(PREVIEW, json={"text": "x", "call": {"nme": "Jan"}}))
    assert "text" in fields(admin.post(PREVIEW, json={"text": "a" * 40_000}))
    assert "text" in fields(admin.post(PREVIEW, json={}))
    assert "transliterate" in fields(admin.post(PREVIEW, json={"text": "x", "transliterate": "maybe"}))


# --- simulate --------------------------------------------------------------------------------------


def test_simulate_with_the_accounts_saved_rules(seeded: WebWorld) -> None:
    answer = seeded.as_("acme-viewer").post(SIMULATE, json={**CALL, "at": "2026-11-25T12:00:00"})
    assert answer.status_code == 200, answer.text
    [sms] = answer.json()["sms"]
    assert sms["rule"] == "missed" and sms["to"] == "+48600100001" and sms["reason"] is None
    assert sms["text"] == "Sorry we missed your call at 12:00"
    # The seed gives acme quiet hours: the SMS says when it would have gone without them.
    assert (sms["due_at"], sms["wanted_at"], sms["quiet_hours"]) == (
        "2026-11-25T12:05:00+01:00",
        "2026-11-25T12:05:00+01:00",
        "22:00-07:00",
    )


def test_simulate_an_unsaved_document_alone(web: WebWorld) -> None:
    document = {**RULE_DOCUMENT, "name": "draft", "enabled": False}
    answer = web.as_("acme-viewer").post(SIMULATE, json={**CALL, "other": "anonymous", "document": document})
    assert answer.status_code == 200, answer.text
    [sms] = answer.json()["sms"]
    assert (sms["rule"], sms["reason"]) == ("draft", "anonymous")
    assert "wanted_at" not in sms  # acme has no quiet hours here


def test_simulate_nothing_matches(web: WebWorld) -> None:
    answer = web.as_("acme-admin").post(SIMULATE, json={**CALL, "status": "answered"})
    assert answer.status_code == 200 and answer.json() == {"sms": []}


def test_simulate_errors_name_the_field(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    assert "not a valid phone number" in fields(admin.post(SIMULATE, json={**CALL, "number": "12"}))["number"]
    assert "ISO 8601" in fields(admin.post(SIMULATE, json={**CALL, "at": "yesterday"}))["at"]
    assert "status" in fields(admin.post(SIMULATE, json={**CALL, "status": "missed"}))
    assert "talk_s" in fields(admin.post(SIMULATE, json={**CALL, "talk_s": -1}))
    early = {**CALL, "at": "0001-01-01T00:00:00+00:00", "talk_s": 60}
    overflow = fields(admin.post(SIMULATE, json=early))["at"]
    assert overflow.startswith("'0001-01-01T00:00:00+00:00' with talk_s 60: the call or its SMS fall outside")
    bad = {**RULE_DOCUMENT, "when": {**RULE_DOCUMENT["when"], "status": ["missed"]}}
    problems = fields(admin.post(SIMULATE, json={**CALL, "document": bad}))
    assert set(problems) == {"document.when.status[0]"}


# --- backtest --------------------------------------------------------------------------------------


def test_backtest_a_document_over_the_call_log(seeded: WebWorld) -> None:
    answer = seeded.as_("acme-viewer").post(BACKTEST, json={"document": RULE_DOCUMENT, "days": DAYS})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert {key: data[key] for key in EXPECTED} == EXPECTED
    assert len(data["examples"]) == 13 and data["examples"][0]["text"] == "Sorry we missed your call at 10:00"


def test_backtest_a_saved_rule_by_name(seeded: WebWorld) -> None:
    data = seeded.as_("acme-admin").post(BACKTEST, json={"rule": "missed", "days": DAYS}).json()
    assert {key: data[key] for key in EXPECTED} == EXPECTED


def test_backtest_reads_only_the_callers_account(seeded: WebWorld) -> None:
    data = seeded.as_("globex-admin").post(
        "/api/v1/accounts/globex/rules/backtest", json={"document": RULE_DOCUMENT, "days": DAYS}
    )
    assert (data.json()["calls"], data.json()["sent"]) == (1, 1)


def test_backtest_errors(seeded: WebWorld) -> None:
    admin = seeded.as_("acme-admin")
    missing = admin.post(BACKTEST, json={"rule": "nope"})
    assert missing.status_code == 404 and "no rule named 'nope'" in missing.json()["detail"]
    assert None in fields(admin.post(BACKTEST, json={"days": 7}))
    assert None in fields(admin.post(BACKTEST, json={"rule": "missed", "document": RULE_DOCUMENT}))
    assert "days" in fields(admin.post(BACKTEST, json={"rule": "missed", "days": 91}))
    assert "days" in fields(admin.post(BACKTEST, json={"rule": "missed", "days": 0}))
    bad = {**RULE_DOCUMENT, "then": {**RULE_DOCUMENT["then"], "delay": 5, "text": "{nme}"}}
    problems = fields(admin.post(BACKTEST, json={"document": bad}))
    assert set(problems) == {"document.then.delay", "document.then.text"}
    assert "did you mean 'delay_s'?" in problems["document.then.delay"]
    assert "document" in fields(admin.post(BACKTEST, json={"document": [1]}))


# --- access ----------------------------------------------------------------------------------------

ROUTES = [
    (PREVIEW, {"text": "x"}),
    (SIMULATE, CALL),
    (BACKTEST, {"document": RULE_DOCUMENT}),
]


@pytest.mark.parametrize(("path", "body"), ROUTES)
def test_another_tenant_gets_404_and_no_one_gets_in_without_credentials(
    web: WebWorld, path: str, body: dict[str, Any]
) -> None:
    assert web.client.post(path, json=body).status_code == 401
    foreign = web.as_("globex-admin").post(path, json=body)
    assert foreign.status_code == 404
    assert foreign.json()["detail"] == "account 'acme' does not exist"
    assert web.as_("globex-viewer").post(path, json=body).status_code == 404
    assert web.as_("root").post(path, json=body).status_code == 200
