"""Delivery report callbacks through a real uvicorn on loopback, on SQLite and PostgreSQL: SMSAPI's
token-guarded GET (several reports per request, duplicates, out of order, a wrong token) and the http
gateway's signed JSON POST (signed, unsigned, stale, replayed to another path, bad JSON)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from ports import free_port
from sqlalchemy import select
from web_world import WebWorld, web_world

from pbx_sms.config.models import RawSetting, Settings, WebSettings
from pbx_sms.core.hook_signatures import http_signature
from pbx_sms.db.delivery_table import DeliveryReportRecord

PUBLIC_URL = "https://pbx.example.com/sms"
HOOK_TOKEN = "h" * 40
SECRET = "shared-callback-secret"
SMSAPI_STATUS = f"/hooks/smsapi/{HOOK_TOKEN}/status"
HTTP_STATUS = "/hooks/http/status"


@dataclass(frozen=True)
class Served:
    world: WebWorld
    client: httpx.Client


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    settings = Settings(
        database_url=database_url,
        web=WebSettings(public_url=PUBLIC_URL, hook_token=HOOK_TOKEN, hook_max_body_bytes=2048),
        gateway_settings={
            "http_url": RawSetting(value="https://sms.example.com/api/send", source="test"),
            "http_callback_secret": RawSetting(value=SECRET, source="test"),
        },
    )
    for world in web_world(database_url, settings=settings):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(world.client.app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
            time.sleep(0.02)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                yield Served(world, client)
        finally:
            server.should_exit = True
            thread.join(10)


def stored(served: Served) -> list[tuple[str, str, str, str | None, int]]:
    with served.world.database.session() as session:
        rows = session.scalars(select(DeliveryReportRecord).order_by(DeliveryReportRecord.message_id))
        return [(row.gateway, row.message_id, row.status, row.code, row.reports) for row in rows]


def smsapi(served: Served, params: dict[str, str], *, path: str = SMSAPI_STATUS) -> httpx.Response:
    return served.client.get(path, params=params)


def signed_post(
    served: Served,
    document: object,
    *,
    path: str = HTTP_STATUS,
    signed_path: str = "/sms" + HTTP_STATUS,
    age_s: int = 0,
) -> httpx.Response:
    body = json.dumps(document).encode()
    timestamp = str(int(time.time()) - age_s)
    headers = {
        "Content-Type": "application/json",
        "X-PBX-SMS-Timestamp": timestamp,
        "X-PBX-SMS-Signature": http_signature(SECRET, timestamp, signed_path, body),
    }
    return served.client.post(path, content=body, headers=headers)


def test_smsapi_reports_in_one_request_duplicates_and_out_of_order(served: Served) -> None:
    answer = smsapi(
        served,
        {
            "MsgId": "S1,S2",
            "status": "403,404",
            "status_name": "DELIVERED,UNDELIVERED",
            "idx": ",",
            "to": "48601,48602",
        },
    )
    assert (answer.status_code, answer.text) == (200, "OK")
    assert answer.headers["content-type"].startswith("text/plain")
    assert smsapi(served, {"MsgId": "S1", "status": "403", "status_name": "DELIVERED"}).status_code == 200
    assert smsapi(served, {"MsgId": "S1", "status": "406", "status_name": "SENT"}).status_code == 200
    assert stored(served) == [("smsapi", "S1", "delivered", "403", 3), ("smsapi", "S2", "undelivered", "404", 1)]


def test_smsapi_with_a_wrong_token_stores_nothing(served: Served) -> None:
    answer = smsapi(served, {"MsgId": "S1", "status_name": "DELIVERED"}, path="/hooks/smsapi/" + "w" * 40 + "/status")
    assert answer.status_code == 404
    assert stored(served) == []


def test_http_a_signed_report_is_recorded(served: Served) -> None:
    assert signed_post(served, {"id": "H1", "status": "sent", "error": None}).status_code == 204
    assert signed_post(served, {"id": "H1", "status": "undelivered", "error": "absent subscriber"}).status_code == 204
    assert stored(served) == [("http", "H1", "undelivered", "absent subscriber", 2)]


def test_http_unsigned_or_wrongly_signed_is_refused(served: Served) -> None:
    body = json.dumps({"id": "H1", "status": "delivered", "error": None})
    unsigned = served.client.post(HTTP_STATUS, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    timestamp = str(int(time.time()))
    wrong = served.client.post(
        HTTP_STATUS, content=body, headers={"X-PBX-SMS-Timestamp": timestamp, "X-PBX-SMS-Signature": "0" * 64}
    )
    assert wrong.status_code == 401
    assert stored(served) == []


@pytest.mark.parametrize("age_s", [320, -320])
def test_http_a_stale_or_future_timestamp_is_refused(served: Served, age_s: int) -> None:
    assert signed_post(served, {"id": "H1", "status": "delivered", "error": None}, age_s=age_s).status_code == 401
    assert signed_post(served, {"id": "H2", "status": "delivered", "error": None}, age_s=250).status_code == 204
    assert [row[1] for row in stored(served)] == ["H2"]


def test_http_a_request_signed_for_another_path_is_refused(served: Served) -> None:
    document = {"id": "H1", "status": "delivered", "error": None}
    assert signed_post(served, document, signed_path="/sms/hooks/other/status").status_code == 401
    assert signed_post(served, document, signed_path=HTTP_STATUS).status_code == 401  # without the proxy's prefix
    assert stored(served) == []


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"id": "H1", "status": "arrived", "error": None}, "status"),
        ({"id": "", "status": "delivered"}, "id"),
        ({"id": "H1", "status": "delivered", "error": 5}, "error"),
        (["H1", "delivered"], "$"),
    ],
)
def test_http_bad_json_is_422_naming_the_field(served: Served, document: object, field: str) -> None:
    answer = signed_post(served, document)
    assert answer.status_code == 422
    assert field in answer.text
    if field == "status":
        assert "expected one of" in answer.text and "delivered" in answer.text
    assert stored(served) == []


def test_http_a_body_too_large_is_refused(served: Served) -> None:
    assert signed_post(served, {"id": "H" * 3000, "status": "delivered"}).status_code == 413
    assert stored(served) == []
