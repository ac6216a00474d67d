"""Numbers, senders and opt-outs through the API: the CLI's storage rules, each account's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web_world import WebWorld, web_world

from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.storage.optouts import list_optouts
from pbx_sms.storage.rule_store import RuleSource, import_rules

RULES = """
account: acme
rules:
  - name: Missed
    when: {direction: in, numbers: ["+48221234567"], status: [no_answer]}
    then: {sender: ACME, to: [other_party], text: "Sorry we missed you"}
"""


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def _with_rule(web: WebWorld) -> None:
    """acme owns +48221234567 and sender ACME, both used by its enabled rule Missed."""
    admin = web.as_("acme-admin")
    assert admin.post("/api/v1/accounts/acme/numbers", json={"number": "22 123 45 67"}).status_code == 201
    assert admin.post("/api/v1/accounts/acme/senders", json={"sender": "ACME"}).status_code == 201
    with web.database.write_session() as session:
        import_rules(session, [RuleSource("rules.yaml", "acme", parse_rule_text(RULES).rules)])


def test_a_number_is_stored_in_e164_and_listed(web: WebWorld) -> None:
    answer = web.as_("acme-admin").post("/api/v1/accounts/acme/numbers", json={"number": "22 123 45 67"})
    assert answer.status_code == 201
    assert answer.json() == {"e164": "+48221234567"}
    assert web.as_("acme-viewer").get("/api/v1/accounts/acme/numbers").json() == [{"e164": "+48221234567"}]
    assert web.as_("globex-admin").get("/api/v1/accounts/globex/numbers").json() == []


def test_a_number_of_another_account_is_409_naming_it(web: WebWorld) -> None:
    web.as_("acme-admin").post("/api/v1/accounts/acme/numbers", json={"number": "+48221234567"})
    answer = web.as_("globex-admin").post("/api/v1/accounts/globex/numbers", json={"number": "+48221234567"})
    assert answer.status_code == 409
    assert "acme" in answer.json()["detail"]


def test_a_number_that_is_not_one_is_422_on_its_field(web: WebWorld) -> None:
    answer = web.as_("acme-admin").post("/api/v1/accounts/acme/numbers", json={"number": "call me"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "number"


def test_a_number_an_enabled_rule_uses_is_not_removed(web: WebWorld) -> None:
    _with_rule(web)
    admin = web.as_("acme-admin")
    answer = admin.delete("/api/v1/accounts/acme/numbers/+48221234567")
    assert answer.status_code == 409
    assert "Missed" in answer.json()["detail"]
    answer = admin.delete("/api/v1/accounts/acme/senders/ACME")
    assert answer.status_code == 409
    assert "Missed" in answer.json()["detail"]
    assert admin.get("/api/v1/accounts/acme/numbers").json() == [{"e164": "+48221234567"}]


def test_an_unused_number_and_sender_are_removed(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    admin.post("/api/v1/accounts/acme/numbers", json={"number": "+48221234567"})
    admin.post("/api/v1/accounts/acme/senders", json={"sender": "ACME"})
    assert admin.delete("/api/v1/accounts/acme/numbers/221234567").status_code == 204
    assert admin.delete("/api/v1/accounts/acme/senders/ACME").status_code == 204
    assert admin.get("/api/v1/accounts/acme/numbers").json() == []
    assert admin.get("/api/v1/accounts/acme/senders").json() == []
    assert admin.delete("/api/v1/accounts/acme/senders/ACME").status_code == 404


def test_senders_are_checked_and_unique_per_account(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    assert admin.post("/api/v1/accounts/acme/senders", json={"sender": "ACME"}).status_code == 201
    assert admin.post("/api/v1/accounts/acme/senders", json={"sender": "ACME"}).status_code == 409
    bad = admin.post("/api/v1/accounts/acme/senders", json={"sender": "far too long a name"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "sender"
    assert web.as_("globex-admin").post("/api/v1/accounts/globex/senders", json={"sender": "ACME"}).status_code == 201


def test_another_accounts_objects_are_not_found(web: WebWorld) -> None:
    _with_rule(web)
    other = web.as_("globex-admin")
    for path in ("numbers", "senders", "optouts"):
        assert other.get(f"/api/v1/accounts/acme/{path}").status_code == 404
    assert other.delete("/api/v1/accounts/acme/numbers/+48221234567").status_code == 404
    assert other.delete("/api/v1/accounts/globex/numbers/+48221234567").status_code == 404
    assert other.delete("/api/v1/accounts/acme/senders/ACME").status_code == 404
    assert other.post("/api/v1/accounts/acme/numbers", json={"number": "+48221234568"}).status_code == 404


def test_a_viewer_changes_nothing(web: WebWorld) -> None:
    viewer = web.as_("acme-viewer")
    assert viewer.post("/api/v1/accounts/acme/numbers", json={"number": "+48221234567"}).status_code == 403
    assert viewer.post("/api/v1/accounts/acme/senders", json={"sender": "ACME"}).status_code == 403
    assert viewer.post("/api/v1/accounts/acme/optouts", json={"number": "601000001"}).status_code == 403
    assert viewer.delete("/api/v1/accounts/acme/optouts/+48601000001").status_code == 403
    assert viewer.get("/api/v1/accounts/acme/numbers").json() == []


def test_account_optouts_list_the_global_ones_too(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    assert admin.post("/api/v1/accounts/acme/optouts", json={"number": "601 000 001"}).json() == {
        "number": "+48601000001",
        "is_global": False,
    }
    assert admin.post("/api/v1/accounts/acme/optouts", json={"number": "+48601000001"}).status_code == 409
    assert web.as_("root").post("/api/v1/optouts", json={"number": "+48601000002"}).status_code == 201
    assert admin.get("/api/v1/accounts/acme/optouts").json() == [
        {"number": "+48601000001", "is_global": False},
        {"number": "+48601000002", "is_global": True},
    ]
    assert web.as_("globex-viewer").get("/api/v1/accounts/globex/optouts").json() == [
        {"number": "+48601000002", "is_global": True}
    ]


def test_an_admin_removes_only_their_own_optouts(web: WebWorld) -> None:
    web.as_("root").post("/api/v1/optouts", json={"number": "+48601000002"})
    web.as_("globex-admin").post("/api/v1/accounts/globex/optouts", json={"number": "+48601000003"})
    admin = web.as_("acme-admin")
    assert admin.delete("/api/v1/accounts/acme/optouts/+48601000002").status_code == 404
    assert admin.delete("/api/v1/accounts/acme/optouts/+48601000003").status_code == 404
    admin.post("/api/v1/accounts/acme/optouts", json={"number": "+48601000001"})
    assert admin.delete("/api/v1/accounts/acme/optouts/601000001").status_code == 204
    with web.database.session() as session:
        assert sorted(list_optouts(session)) == [("+48601000002", None), ("+48601000003", "globex")]


def test_global_optouts_are_the_operators(web: WebWorld) -> None:
    root = web.as_("root")
    assert root.post("/api/v1/optouts", json={"number": "601000002"}).json() == {
        "number": "+48601000002",
        "is_global": True,
    }
    web.as_("acme-admin").post("/api/v1/accounts/acme/optouts", json={"number": "+48601000001"})
    assert root.get("/api/v1/optouts").json() == [{"number": "+48601000002", "is_global": True}]
    assert web.as_("acme-admin").get("/api/v1/optouts").status_code == 403
    assert web.as_("acme-admin").post("/api/v1/optouts", json={"number": "+48601000009"}).status_code == 403
    assert web.as_("acme-admin").delete("/api/v1/optouts/+48601000002").status_code == 403
    bad = root.post("/api/v1/optouts", json={"number": "x"})
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "number")
    assert root.delete("/api/v1/optouts/+48601000002").status_code == 204
    assert root.delete("/api/v1/optouts/+48601000002").status_code == 404
