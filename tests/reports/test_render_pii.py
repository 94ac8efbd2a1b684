"""The demo's incident scene through a live gateway, then every report of every incident
(JSON, HTML, and the PDF's extracted text, in both languages) grepped for every raw PII
value of the demo CRM's customers: none may appear."""

from __future__ import annotations

import shutil
import subprocess

import aiohttp
import pytest

from gateway.cli.demo import demo_config
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app
from gateway.demo.data import generate_customers, pii_values
from gateway.demo.incidents import DEMO_OFFICER, incident_lines, play_incident_story

PER_PROJECT = 30


@pytest.fixture
async def demo_gateway(start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(create_crm_app(seed=7, per_project=PER_PROJECT))
    config = parse_config(demo_config(int(crm.rsplit(":", 1)[1]), 0, str(tmp_path / "s")),
                          env={})
    return await start_gateway(crm, config=config)


def raw_values() -> set[str]:
    return {value for project in ("proj1", "proj2")
            for customer in generate_customers(project, PER_PROJECT, 7)
            for values in pii_values(customer).values() for value in values}


def pdf_text(body: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        return ""
    path = tmp_path / "r.pdf"
    path.write_bytes(body)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout


async def test_demo_incidents_and_their_reports_hold_no_raw_pii(demo_gateway, tmp_path):
    gw = demo_gateway
    incidents = await play_incident_story(gw.url)
    kinds = sorted(i["kind"] for i in incidents)
    assert kinds == ["brute_force", "export_blocked", "manual"]
    assert [i["id"] for i in await play_incident_story(gw.url)] == [i["id"] for i in incidents]
    printed = incident_lines(gw.url, incidents)
    assert f"{gw.url}/_dlp/ui/" in printed and DEMO_OFFICER[1] in printed

    texts: list[str] = []
    headers = {"X-API-Key": DEMO_OFFICER[1]}
    async with aiohttp.ClientSession(gw.url) as http:
        for incident in incidents:
            for fmt in ("json", "html", "pdf"):
                for lang in ("en", "zh"):
                    async with http.get(f"/_dlp/incidents/{incident['id']}/report",
                                        params={"format": fmt, "lang": lang},
                                        headers=headers) as resp:
                        assert resp.status == 200, await resp.text()
                        body = await resp.read()
                    texts.append(pdf_text(body, tmp_path) if fmt == "pdf" else body.decode())
        async with http.get("/_dlp/incidents", headers={"X-API-Key": "demo-bob"}) as resp:
            assert resp.status == 403

    blocked = next(i for i in incidents if i["kind"] == "export_blocked")
    assert blocked["categories"] and blocked["record_count"] > 0
    corpus = "\n".join(texts)
    assert blocked["id"] in corpus and "个人信息安全事件报告" in corpus
    leaked = sorted(value for value in raw_values() if value in corpus)
    assert leaked == []
