"""The web panel's tests: acme gets a sender, a number and three rules, globex one rule; and a
TestClient logged in through the login form, with the CSRF token its pages embed."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_world import PASSWORD, WebWorld

from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.db.engine import Database
from pbx_sms.storage.numbers import add_number, add_sender
from pbx_sms.storage.rule_store import RuleSource, import_rules
from pbx_sms.storage.users import set_language

ACME_RULES = """
rules:
  - name: Missed call
    when: {direction: in, numbers: all, status: [no_answer, busy]}
    then: {sender: ACME, to: [other_party], text: "Sorry we missed your call. We will call back."}
  - name: After hours / weekend
    enabled: false
    when:
      direction: in
      numbers: ["+48221234567"]
      status: [no_answer]
      talk_s: {max: 0}
      schedule:
        weekdays: [sat, sun]
        hours: [{from: "18:00", to: "08:00"}]
    then: {sender: ACME, to: [other_party], text: "Jesteśmy zamknięci, oddzwonimy w poniedziałek."}
  - name: Thanks
    when: {direction: any, numbers: all, status: [answered], talk_s: {min: 30}}
    then: {sender: ACME, to: [other_party], text: "Thank you for calling ACME."}
"""
GLOBEX_RULES = """
rules:
  - name: Globex secret
    when: {direction: in, numbers: all, status: [no_answer]}
    then: {sender: GLOBEX, to: [other_party], text: "Globex here."}
"""
ACME_RULE_NAMES = ("After hours / weekend", "Missed call", "Thanks")


def seed_rules(database: Database) -> None:
    with database.write_session() as session:
        add_sender(session, "ACME", "acme")
        add_number(session, "+48221234567", "acme")
        add_sender(session, "GLOBEX", "globex")
        import_rules(
            session,
            [
                RuleSource("acme.yaml", "acme", parse_rule_text(ACME_RULES).rules),
                RuleSource("globex.yaml", "globex", parse_rule_text(GLOBEX_RULES).rules),
            ],
        )


def browser(web: WebWorld) -> TestClient:
    """A client with no credentials, keeping its cookies like a browser."""
    return TestClient(web.client.app, raise_server_exceptions=False)


def logged_in(web: WebWorld, user: str) -> tuple[TestClient, str]:
    """A client with a session cookie, and the CSRF token its pages embed."""
    client = browser(web)
    answer = client.post("/login", data=login_form(client, user, PASSWORD), follow_redirects=False)
    assert answer.status_code == 303
    return client, csrf_of(client.get("/accounts" if user == "root" else "/").text)


def login_form(client: TestClient, user: str, password: str, **more: str) -> dict[str, str]:
    """What the login form posts, with the CSRF token GET /login gave (it also sets its cookie)."""
    return {"user": user, "password": password, "csrf_token": csrf_of(client.get("/login").text), **more}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found is not None, html
    return found.group(1)


def polish_reader(database: Database, user: str = "acme-admin") -> None:
    """``user`` reads the panel in Polish (their setting: it comes before the browser's language)."""
    with database.write_session() as session:
        set_language(session, user, "pl")
