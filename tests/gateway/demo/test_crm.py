"""The demo CRM served by a real aiohttp test server."""

from __future__ import annotations

import csv
import gzip
import io
import re
from html.parser import HTMLParser

import orjson
import pytest
from openpyxl import load_workbook

from gateway.demo import CSV_FIELDS, create_crm_app, generate_customers, pii_values

PER_PROJECT = 40
BASE = "/api/projects/proj1/customers"


@pytest.fixture
def expected() -> list[dict[str, object]]:
    return [c.to_dict() for c in generate_customers("proj1", PER_PROJECT, 7)]


@pytest.fixture
async def client(aiohttp_client):
    return await aiohttp_client(create_crm_app(per_project=PER_PROJECT))


@pytest.fixture
async def raw_client(aiohttp_client):
    return await aiohttp_client(create_crm_app(per_project=PER_PROJECT), auto_decompress=False)


def csv_expected_rows(expected):
    return [[str(r[f]) if f != "amount" else f"{r[f]:.2f}" for f in CSV_FIELDS] for r in expected]


async def test_health(client):
    response = await client.get("/api/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_list_returns_the_generated_customers(client, expected):
    response = await client.get(BASE)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == expected


async def test_list_default_limit_is_50(aiohttp_client):
    client = await aiohttp_client(create_crm_app(per_project=60))
    rows = await (await client.get(BASE)).json()
    assert [r["id"] for r in rows] == list(range(1, 51))


async def test_list_limit_offset_and_query(client, expected):
    page = await (await client.get(BASE, params={"limit": "10", "offset": "5"})).json()
    assert [r["id"] for r in page] == list(range(6, 16))
    name = expected[12]["name"]
    by_name = await (await client.get(BASE, params={"q": name})).json()
    assert by_name and all(name in r["name"] for r in by_name)
    by_number = await (await client.get(BASE, params={"q": "c1000007"})).json()
    assert [r["customer_no"] for r in by_number] == ["C1000007"]
    assert await (await client.get(BASE, params={"q": "nobody-has-this"})).json() == []


async def test_list_limit_may_reach_1000(aiohttp_client):
    client = await aiohttp_client(create_crm_app(per_project=1001, projects=("proj9",)))
    rows = await (await client.get("/api/projects/proj9/customers?limit=1000")).json()
    assert len(rows) == 1000
    assert rows[-1]["customer_no"] == "C9001000"


@pytest.mark.parametrize(
    "query", ["limit=abc", "limit=1001", "limit=-1", "offset=-1", "offset=x", "limit=1.5"]
)
async def test_list_rejects_bad_paging(client, query):
    response = await client.get(f"{BASE}?{query}")
    assert response.status == 400
    assert response.content_type == "application/json"
    assert "error" in await response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/api/projects/nope/customers",
        "/api/projects/nope/customers/1",
        "/api/projects/nope/customers/export.csv",
        "/api/projects/nope/customers/export.xlsx",
        "/api/notes/nope",
    ],
)
async def test_unknown_project_is_json_404(client, path):
    response = await client.get(path)
    assert response.status == 404
    assert response.content_type == "application/json"
    assert "nope" in (await response.json())["error"]


async def test_list_is_gzipped_on_the_wire(raw_client, expected):
    response = await raw_client.get(BASE, headers={"Accept-Encoding": "gzip, deflate"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    body = await response.read()
    assert body[:2] == b"\x1f\x8b"
    assert orjson.loads(gzip.decompress(body)) == expected


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0", "br"])
async def test_list_is_plain_without_gzip(raw_client, expected, accept):
    response = await raw_client.get(BASE, headers={"Accept-Encoding": accept})
    assert "Content-Encoding" not in response.headers
    body = await response.read()
    assert body.startswith(b"[{")
    assert orjson.loads(body) == expected


async def test_get_one_customer(client, expected):
    response = await client.get(f"{BASE}/3")
    assert response.status == 200
    assert await response.json() == expected[2]


@pytest.mark.parametrize("customer_id", ["0", "41", "999", "abc", "1a", "²", "export.json"])
async def test_missing_customer_is_json_404(client, customer_id):
    response = await client.get(f"{BASE}/{customer_id}")
    assert response.status == 404
    assert response.content_type == "application/json"


async def test_export_csv_is_utf8_with_bom(client, expected):
    response = await client.get(f"{BASE}/export.csv")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="proj1-customers.csv"'
    body = await response.read()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(CSV_FIELDS)
    assert rows[1:] == csv_expected_rows(expected)


@pytest.mark.parametrize("charset", ["gbk", "GB18030"])
async def test_export_csv_in_gb18030(client, expected, charset):
    response = await client.get(f"{BASE}/export.csv", params={"charset": charset})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=gb18030"
    body = await response.read()
    assert not body.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    rows = list(csv.reader(io.StringIO(body.decode("gb18030"), newline="")))
    assert rows[0] == list(CSV_FIELDS)
    assert rows[1:] == csv_expected_rows(expected)


async def test_export_csv_rejects_unknown_charset(client):
    response = await client.get(f"{BASE}/export.csv", params={"charset": "latin-1"})
    assert response.status == 400


async def test_export_xlsx(client, expected):
    response = await client.get(f"{BASE}/export.xlsx")
    assert response.status == 200
    assert response.content_type == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    disposition = response.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="proj1-customers.xlsx"'
    body = await response.read()
    assert body[:2] == b"PK"
    sheet = load_workbook(io.BytesIO(body)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(CSV_FIELDS)
    assert all(cell.font.bold for cell in sheet[1])
    assert not sheet["A2"].font.bold
    assert len(rows) == PER_PROJECT + 1
    assert [dict(zip(CSV_FIELDS, row, strict=True)) for row in rows[1:]] == expected


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.row_phones: list[str] = []
        self.cells: list[str] = []
        self.scripts: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag, attrs):
        self._tag = tag
        if tag == "tr" and "data-phone" in dict(attrs):
            self.row_phones.append(dict(attrs)["data-phone"])

    def handle_data(self, data):
        if self._tag == "title":
            self.title += data
        elif self._tag == "td":
            self.cells.append(data)
        elif self._tag == "script":
            self.scripts.append(data)

    def handle_endtag(self, tag):
        self._tag = ""


async def _page(client, query: str) -> tuple[int, str, _PageParser]:
    response = await client.get(f"/customers{query}")
    parser = _PageParser()
    parser.feed(await response.text())
    return response.status, response.headers.get("Content-Type", ""), parser


async def test_html_page(client):
    customers = generate_customers("proj1", PER_PROJECT, 7)
    status, content_type, page = await _page(client, "?project=proj1")
    assert status == 200
    assert content_type == "text/html; charset=utf-8"
    assert "proj1" in page.title
    assert page.row_phones == [c.phone for c in customers]
    for c in customers:
        assert {c.name, c.phone, c.email} <= set(page.cells)
    assert len(page.scripts) == 1
    pii = {v for c in customers for values in pii_values(c).values() for v in values}
    assert not any(value in page.scripts[0] for value in pii)
    assert not re.search(r"\d{4}", page.scripts[0])


async def test_html_page_shows_at_most_50_rows_and_defaults_to_first_project(aiohttp_client):
    client = await aiohttp_client(create_crm_app(per_project=60))
    status, _, page = await _page(client, "")
    assert status == 200
    assert "proj1" in page.title
    assert len(page.row_phones) == 50
    status, _, page = await _page(client, "?project=proj2")
    assert "proj2" in page.title
    assert page.row_phones == [c.phone for c in generate_customers("proj2", 50, 7)]


async def test_html_page_unknown_project(client):
    status, _, _ = await _page(client, "?project=nope")
    assert status == 404


@pytest.mark.parametrize("user", ["alice", "bob", "carol", "dave", "erin", "admin"])
async def test_login_succeeds_for_every_demo_user(client, user):
    response = await client.post("/login", data={"username": user, "password": f"{user}-password"})
    assert response.status == 200
    assert await response.json() == {"ok": True, "user": user}


async def test_login_accepts_multipart_forms(client):
    from aiohttp import FormData

    form = FormData({"username": "alice", "password": "alice-password"}, default_to_multipart=True)
    response = await client.post("/login", data=form)
    assert response.status == 200


@pytest.mark.parametrize(
    "form",
    [
        {"username": "alice", "password": "bob-password"},
        {"username": "alice", "password": ""},
        {"username": "mallory", "password": "mallory-password"},
    ],
)
async def test_login_rejects_bad_credentials(client, form):
    response = await client.post("/login", data=form)
    assert response.status == 401
    assert await response.json() == {"ok": False}


async def test_login_rejects_non_form_bodies(client):
    as_json = await client.post("/login", json={"username": "alice", "password": "alice-password"})
    assert as_json.status == 400
    assert (await as_json.json())["ok"] is False
    missing = await client.post("/login", data={"username": "alice"})
    assert missing.status == 400


async def test_notes_are_plain_text_one_per_line(client, expected):
    response = await client.get("/api/notes/proj1")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert (await response.text()).splitlines() == [r["notes"] for r in expected]


async def test_export_routes_are_not_captured_by_the_id_route(client):
    for name, content_type in (("export.csv", "text/csv"), ("export.xlsx", "spreadsheetml")):
        response = await client.get(f"{BASE}/{name}")
        assert response.status == 200
        assert content_type in response.headers["Content-Type"]


async def test_projects_are_separate(client):
    proj2 = await (await client.get("/api/projects/proj2/customers?limit=1")).json()
    assert proj2[0]["customer_no"] == "C2000001"
    assert proj2[0] == generate_customers("proj2", 1, 7)[0].to_dict()
