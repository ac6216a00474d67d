"""/api/v1/accounts/{account}/rules: the rule-file checks with field paths, versions (If-Match), tenant
isolation, the daemon's view of API changes, and the same export as the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cli_helpers import admin_cli
from sqlalchemy import select, text, update
from web_world import WebWorld, web_world

from pbx_sms.db.config_tables import ConfigVersion, RuleRow
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.numbers import add_number, add_sender

ACME_NUMBER = "+48221234567"
ACME_OTHER_NUMBER = "+48221234568"
GLOBEX_NUMBER = "+48227654321"
RULES = "/api/v1/accounts/{}/rules"


def rule_document(name: str = "Missed call", **then: Any) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": True,
        "when": {
            "direction": "in",
            "numbers": [ACME_NUMBER],
            "status": ["no_answer", "busy"],
            "talk_s": {"max": 5},
            "schedule": {
                "dates": [{"from": "2026-01-01", "to": "2026-12-31"}],
                "weekdays": ["mon", "fri"],
                "hours": [{"from": "08:00", "to": "18:00"}],
            },
        },
        "then": {
            "sender": "ACME",
            "to": ["other_party"],
            "text": "Dziękujemy za telefon!\nOddzwonimy: {number}",
            "delay_s": 60,
            "min_interval_s": 3600,
            "transliterate": False,
            **then,
        },
    }


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    for world in web_world(database_url):
        with world.database.write_session() as session:
            add_sender(session, "ACME", "acme")
            add_number(session, ACME_NUMBER, "acme")
            add_number(session, ACME_OTHER_NUMBER, "acme")
            add_sender(session, "GLOBEX", "globex")
            add_number(session, GLOBEX_NUMBER, "globex")
        yield world


def rule_url(account: str, name: str) -> str:
    return f"{RULES.format(account)}/{name}"


def create(web: WebWorld, document: dict[str, Any], account: str = "acme", user: str = "acme-admin") -> str:
    answer = web.as_(user).post(RULES.format(account), json=document)
    assert answer.status_code == 201, answer.text
    etag: str = answer.headers["ETag"]
    return etag


def stored_names(web: WebWorld) -> list[tuple[int, str]]:
    with web.database.session() as session:
        return [(row.account_id, row.name) for row in session.scalars(select(RuleRow).order_by(RuleRow.id))]


def config_version(web: WebWorld) -> int | None:
    with web.database.session() as session:
        return session.scalar(select(ConfigVersion.version))


def test_create_read_list_update_switch_and_delete(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    created = admin.post(RULES.format("acme"), json=rule_document())
    assert created.status_code == 201
    assert created.headers["Location"] == "/api/v1/accounts/acme/rules/Missed%20call"
    body = created.json()
    expected = rule_document()
    assert {key: body[key] for key in ("name", "enabled", "when", "then")} == expected
    assert body["valid"] is True and body["problems"] == [] and body["warnings"] == []
    assert body["version"] == created.headers["ETag"] and body["updated_at"]

    read = admin.get(created.headers["Location"])
    assert read.status_code == 200 and read.json() == body and read.headers["ETag"] == created.headers["ETag"]
    assert admin.get(RULES.format("acme")).json() == [body]

    changed = rule_document(text="Oddzwonimy wkrótce")
    updated = admin.put(rule_url("acme", "Missed call"), json=changed, headers={"If-Match": read.headers["ETag"]})
    assert updated.status_code == 200, updated.text
    assert updated.json()["then"]["text"] == "Oddzwonimy wkrótce"
    assert updated.headers["ETag"] not in (read.headers["ETag"], None)

    disabled = admin.post(rule_url("acme", "Missed call") + "/disable")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert disabled.headers["ETag"] != updated.headers["ETag"]
    assert admin.post(rule_url("acme", "Missed call") + "/disable").headers["ETag"] == disabled.headers["ETag"]
    enabled = admin.post(rule_url("acme", "Missed call") + "/enable")
    assert enabled.json()["enabled"] is True and enabled.headers["ETag"] == updated.headers["ETag"]

    deleted = admin.delete(rule_url("acme", "Missed call"), headers={"If-Match": enabled.headers["ETag"]})
    assert deleted.status_code == 200 and deleted.json() == {"name": "Missed call", "cancelled_sms": 0}
    assert admin.get(rule_url("acme", "Missed call")).status_code == 404
    assert stored_names(web) == []


def test_defaults_of_the_rule_file_apply_and_are_shown(web: WebWorld) -> None:
    minimal = {
        "name": "Short",
        "when": {"direction": "any", "numbers": "all", "status": ["busy"]},
        "then": {"sender": "ACME", "to": ["other_party"], "text": "x" * 1000},
    }
    body = web.as_("acme-admin").post(RULES.format("acme"), json=minimal).json()
    assert body["enabled"] is True
    assert body["then"] == {**minimal["then"], "delay_s": 0, "min_interval_s": 0, "transliterate": False}
    assert [warning["field"] for warning in body["warnings"]] == ["then.text"]
    assert "more than 6" in body["warnings"][0]["message"]


def test_every_bad_field_is_reported_with_its_path_and_nothing_is_saved(web: WebWorld) -> None:
    document = rule_document()
    document["when"]["status"] = ["busy", "nope"]
    document["when"]["numbers"] = [ACME_NUMBER, "221234567"]
    document["when"]["schedule"]["hours"] = [{"from": "25:00", "to": "08:00"}]
    document["then"]["text"] = "Hi {nmber}"
    document["then"]["delay"] = 5
    before = config_version(web)
    answer = web.as_("acme-admin").post(RULES.format("acme"), json=document)
    assert answer.status_code == 422
    errors = {error["field"]: error["message"] for error in answer.json()["errors"]}
    assert set(errors) == {
        "when.status[1]",
        "when.numbers[1]",
        "when.schedule.hours[0].from",
        "then.text",
        "then.delay",
    }
    assert "E.164" in errors["when.numbers[1]"] and "'221234567'" in errors["when.numbers[1]"]
    assert "unknown placeholder {nmber}" in errors["then.text"]
    assert "did you mean 'delay_s'?" in errors["then.delay"]
    assert stored_names(web) == [] and config_version(web) == before


def test_a_body_that_is_not_a_rule_is_422(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    missing = admin.post(RULES.format("acme"), json={"name": "x"})
    assert {error["field"] for error in missing.json()["errors"]} == {"when", "then"}
    assert all(error["message"] == "missing required key" for error in missing.json()["errors"])
    assert admin.post(RULES.format("acme"), json=["a list"]).status_code == 422
    assert stored_names(web) == []


def test_senders_and_numbers_must_be_the_accounts_own(web: WebWorld) -> None:
    document = rule_document()
    document["when"]["numbers"] = [ACME_NUMBER, GLOBEX_NUMBER, "+48221111111"]
    document["then"]["sender"] = "GLOBEX"
    answer = web.as_("acme-admin").post(RULES.format("acme"), json=document)
    assert answer.status_code == 422
    errors = {error["field"]: error["message"] for error in answer.json()["errors"]}
    assert set(errors) == {"when.numbers[1]", "when.numbers[2]", "then.sender"}
    assert errors["when.numbers[1]"] == f"number {GLOBEX_NUMBER} belongs to account 'globex', not 'acme'"
    assert errors["when.numbers[2]"].startswith("number +48221111111 is not a number of account 'acme'")
    assert errors["then.sender"].startswith("sender 'GLOBEX' is not a sender of account 'acme'")
    assert stored_names(web) == []


def test_a_name_is_taken_once_per_account_and_the_same_name_lives_in_two_accounts(web: WebWorld) -> None:
    create(web, rule_document())
    again = web.as_("acme-admin").post(RULES.format("acme"), json=rule_document(text="other"))
    assert again.status_code == 409 and "already has a rule named 'Missed call'" in again.json()["detail"]

    globex = rule_document()
    globex["when"]["numbers"] = [GLOBEX_NUMBER]
    globex["then"]["sender"] = "GLOBEX"
    create(web, globex, account="globex", user="globex-admin")
    acme_rule = web.as_("acme-admin").get(rule_url("acme", "Missed call")).json()
    globex_rule = web.as_("globex-admin").get(rule_url("globex", "Missed call")).json()
    assert acme_rule["when"]["numbers"] == [ACME_NUMBER] and globex_rule["when"]["numbers"] == [GLOBEX_NUMBER]
    assert len(stored_names(web)) == 2


def test_a_change_needs_the_current_version(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    first = create(web, rule_document())
    url = rule_url("acme", "Missed call")
    for method in ("PUT", "DELETE"):
        body = rule_document(text="lost") if method == "PUT" else None
        without = admin.request(method, url, json=body)
        assert without.status_code == 428 and "If-Match" in without.json()["detail"]

    current = admin.put(url, json=rule_document(text="second"), headers={"If-Match": first}).headers["ETag"]
    for method in ("PUT", "DELETE"):
        body = rule_document(text="lost") if method == "PUT" else None
        stale = admin.request(method, url, json=body, headers={"If-Match": first})
        assert stale.status_code == 412 and stale.headers["ETag"] == current
    assert admin.get(url).json()["then"]["text"] == "second"

    # An edit made by SQL is a new version too.
    with web.database.write_session() as session:
        session.execute(update(RuleRow).where(RuleRow.name == "Missed call").values(delay_s=5))
    by_sql = admin.get(url).headers["ETag"]
    assert by_sql != current
    assert admin.put(url, json=rule_document(text="lost"), headers={"If-Match": current}).status_code == 412
    assert admin.put(url, json=rule_document(text="third"), headers={"If-Match": by_sql}).status_code == 200


def test_a_put_is_the_whole_rule_so_enabled_left_out_is_true(web: WebWorld) -> None:
    create(web, rule_document())
    url = rule_url("acme", "Missed call")
    version = web.as_("acme-admin").post(url + "/disable").headers["ETag"]
    document = rule_document()
    del document["enabled"]
    replaced = web.as_("acme-admin").put(url, json=document, headers={"If-Match": version})
    assert replaced.status_code == 200 and replaced.json()["enabled"] is True


def test_a_stale_version_is_checked_before_the_body(web: WebWorld) -> None:
    first = create(web, rule_document())
    url = rule_url("acme", "Missed call")
    web.as_("acme-admin").post(url + "/disable")
    bad = rule_document()
    bad["when"]["status"] = ["nope"]
    assert web.as_("acme-admin").put(url, json=bad, headers={"If-Match": first}).status_code == 412


def test_a_bad_update_changes_nothing(web: WebWorld) -> None:
    version = create(web, rule_document())
    url = rule_url("acme", "Missed call")
    bad = rule_document(name="Renamed", text="changed")
    bad["then"]["sender"] = "NOPE"
    answer = web.as_("acme-admin").put(url, json=bad, headers={"If-Match": version})
    assert answer.status_code == 422 and [error["field"] for error in answer.json()["errors"]] == ["then.sender"]
    after = web.as_("acme-admin").get(url)
    assert after.headers["ETag"] == version and after.json()["then"]["text"] == rule_document()["then"]["text"]


def test_a_rule_is_renamed_to_a_free_name_only(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    version = create(web, rule_document())
    create(web, rule_document("Taken"))
    url = rule_url("acme", "Missed call")
    taken = admin.put(url, json=rule_document("Taken"), headers={"If-Match": version})
    assert taken.status_code == 409
    renamed = admin.put(url, json=rule_document("Oddzwoń"), headers={"If-Match": version})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Oddzwoń"
    assert admin.get(url).status_code == 404
    assert admin.get(rule_url("acme", "Oddzwoń")).headers["ETag"] == renamed.headers["ETag"]
    assert [name for _, name in stored_names(web)] == ["Oddzwoń", "Taken"]


def test_another_accounts_rules_are_not_found_by_any_method(web: WebWorld) -> None:
    globex = rule_document()
    globex["when"]["numbers"] = [GLOBEX_NUMBER]
    globex["then"]["sender"] = "GLOBEX"
    version = create(web, globex, account="globex", user="globex-admin")
    admin = web.as_("acme-admin")
    url = rule_url("globex", "Missed call")
    answers = [
        admin.get(RULES.format("globex")),
        admin.get(RULES.format("globex") + "/export"),
        admin.post(RULES.format("globex"), json=globex),
        admin.get(url),
        admin.put(url, json=globex, headers={"If-Match": version}),
        admin.post(url + "/enable"),
        admin.post(url + "/disable"),
        admin.delete(url, headers={"If-Match": version}),
    ]
    assert [answer.status_code for answer in answers] == [404] * len(answers)
    # The same name in the caller's own account is simply not there.
    assert admin.get(rule_url("acme", "Missed call")).status_code == 404
    assert web.as_("globex-admin").get(url).headers["ETag"] == version


def test_a_viewer_reads_and_may_not_write(web: WebWorld) -> None:
    version = create(web, rule_document())
    viewer = web.as_("acme-viewer")
    url = rule_url("acme", "Missed call")
    assert viewer.get(url).status_code == viewer.get(RULES.format("acme")).status_code == 200
    assert viewer.get(RULES.format("acme") + "/export").status_code == 200
    answers = [
        viewer.post(RULES.format("acme"), json=rule_document("Other")),
        viewer.put(url, json=rule_document(text="changed"), headers={"If-Match": version}),
        viewer.post(url + "/enable"),
        viewer.post(url + "/disable"),
        viewer.delete(url, headers={"If-Match": version}),
    ]
    assert [answer.status_code for answer in answers] == [403] * len(answers)
    assert viewer.get(url).headers["ETag"] == version


def test_an_operator_works_on_any_account(web: WebWorld) -> None:
    create(web, rule_document(), user="root")
    assert web.as_("acme-viewer").get(rule_url("acme", "Missed call")).status_code == 200


def test_a_stored_rule_made_invalid_is_shown_with_its_problems(web: WebWorld) -> None:
    create(web, rule_document())
    with web.database.write_session() as session:
        session.execute(text("UPDATE rules SET statuses = 'busy,nope', sender = 'GLOBEX'"))
    admin = web.as_("acme-admin")
    url = rule_url("acme", "Missed call")
    admin.post(url + "/disable")
    shown = admin.get(url)
    assert shown.status_code == 200
    body = shown.json()
    assert body["valid"] is False and body["when"] is None and body["then"] is None
    assert [problem["field"] for problem in body["problems"]] == ["statuses"]
    assert admin.get(RULES.format("acme")).json()[0]["valid"] is False
    refused = admin.post(url + "/enable")
    assert refused.status_code == 409 and "cannot be enabled" in refused.json()["detail"]
    assert admin.get(RULES.format("acme") + "/export").status_code == 409
    # Fixed through the API: the same checks, and it can be enabled again.
    fixed = admin.put(url, json=rule_document(), headers={"If-Match": shown.headers["ETag"]})
    assert fixed.status_code == 200 and fixed.json()["valid"] is True


def test_a_rule_whose_number_was_removed_by_sql_still_shows_its_document(web: WebWorld) -> None:
    create(web, rule_document())
    with web.database.write_session() as session:
        session.execute(text("DELETE FROM numbers WHERE e164 = :e164"), {"e164": ACME_NUMBER})
    body = web.as_("acme-admin").get(rule_url("acme", "Missed call")).json()
    assert body["valid"] is False and body["when"]["numbers"] == [ACME_NUMBER]
    assert [problem["field"] for problem in body["problems"]] == ["numbers"]
    assert "is not a number of account 'acme'" in body["problems"][0]["message"]


def test_an_unknown_rule_is_404(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    url = rule_url("acme", "nothing")
    answers = [
        admin.get(url),
        admin.put(url, json=rule_document(), headers={"If-Match": "*"}),
        admin.post(url + "/enable"),
        admin.delete(url, headers={"If-Match": "*"}),
    ]
    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert "has no rule named 'nothing'" in answers[0].json()["detail"]


def test_api_changes_reach_the_daemons_configuration(web: WebWorld) -> None:
    cache = ConfigCache(web.database)
    assert cache.snapshot().rules_for("acme") == ()
    admin = web.as_("acme-admin")
    create(web, rule_document())
    assert cache.refresh() is True
    assert [active.rule.name for active in cache.snapshot().rules_for("acme")] == ["Missed call"]

    admin.post(rule_url("acme", "Missed call") + "/disable")
    assert cache.refresh() is True and cache.snapshot().rules_for("acme") == ()
    enabled = admin.post(rule_url("acme", "Missed call") + "/enable").headers["ETag"]
    admin.put(rule_url("acme", "Missed call"), json=rule_document(text="new"), headers={"If-Match": enabled})
    assert cache.refresh() is True
    assert [active.rule.then.text for active in cache.snapshot().rules_for("acme")] == ["new"]
    version = admin.get(rule_url("acme", "Missed call")).headers["ETag"]
    admin.delete(rule_url("acme", "Missed call"), headers={"If-Match": version})
    assert cache.refresh() is True and cache.snapshot().rules_for("acme") == ()


def test_the_api_exports_exactly_what_the_cli_exports(web: WebWorld, database_url: str) -> None:
    second = rule_document("Ąęść zajęty", text="Linia zajęta, oddzwonimy.")
    second["when"] = {"direction": "any", "numbers": "all", "status": ["busy"], "evidence": ["full", "hook"]}
    second["then"]["max_parts"] = 2
    create(web, rule_document())
    create(web, second)
    create(web, rule_document("Switched off"))
    web.as_("acme-admin").post(rule_url("acme", "Switched off") + "/disable")

    answer = web.as_("acme-viewer").get(RULES.format("acme") + "/export")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/yaml"
    exported = admin_cli(database_url)("rules", "export", "--account", "acme")
    assert answer.content == exported.stdout_bytes
    assert "Ąęść zajęty" in answer.text and 'from: "08:00"' in answer.text and "enabled: false" in answer.text

    empty = web.as_("globex-admin").get(RULES.format("globex") + "/export")
    assert empty.content == admin_cli(database_url)("rules", "export", "--account", "globex").stdout_bytes
