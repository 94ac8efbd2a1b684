"""``dlp-gateway trace``: a real gateway exports, a real subprocess traces the file."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp
import yaml
from click.testing import CliRunner

from detectors.watermark import Watermark, export_key
from gateway.cli.demo import demo_config
from gateway.cli.main import cli
from gateway.cli.trace import EXIT_NO_MATCH
from gateway.config import load_config
from gateway.demo.crm import create_crm_app
from gateway.detection import derive_key
from reports.database import open_database
from reports.export_trace import ExportTrace, ExportTraceStore

CSV = "/api/projects/proj1/customers/export.csv"


async def call(url, method, path, user, **kwargs):
    headers = {"X-API-Key": f"demo-{user}", **kwargs.pop("headers", {})}
    async with aiohttp.ClientSession() as client, client.request(
        method, url + path, headers=headers, **kwargs
    ) as resp:
        return resp.status, await resp.read()


async def run_trace(config, path, *extra):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "trace", "--config", str(config), *extra, str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


async def in_thread(config, path, *extra):
    """The CLI in-process; a worker thread, since it runs its own event loop."""
    args = ["trace", "--config", str(config), *extra, str(path)]
    return await asyncio.to_thread(CliRunner().invoke, cli, args)


async def test_trace_names_the_approval_and_the_requester(start_upstream, start_gateway,
                                                          tmp_path):
    crm = await start_upstream(create_crm_app(seed=7, per_project=30))
    config = tmp_path / "gw.yaml"
    config.write_text(yaml.safe_dump(
        demo_config(int(crm.rsplit(":", 1)[1]), 0, str(tmp_path / "state"))))
    gw = await start_gateway(crm, config=load_config(config))
    status, body = await call(gw.url, "POST", "/_dlp/approvals", "bob", json={
        "method": "GET", "path": CSV, "reason": "audit", "max_records": 300})
    approval = json.loads(body)["id"]
    await call(gw.url, "POST", f"/_dlp/approvals/{approval}/approve", "carol")
    status, body = await call(gw.url, "GET", CSV, "bob", headers={"X-DLP-Approval": approval})
    assert status == 200
    leaked = tmp_path / "leaked.csv"
    leaked.write_bytes(body)
    excerpt = tmp_path / "excerpt.txt"
    excerpt.write_text("\n".join(body.decode("utf-8-sig").splitlines()[5:7]))
    status, page = await call(gw.url, "GET", "/api/projects/proj1/customers?limit=20", "bob")
    unmarked = tmp_path / "page.json"
    unmarked.write_bytes(page)

    code, out, err = await run_trace(config, leaked)
    assert code == 0, (out, err)
    assert f"MATCH approval {approval}" in out and "bob (pseudonym hmac:" in out
    assert CSV in out and "records      30" in out
    found = await in_thread(config, excerpt, "--json")
    assert found.exit_code == 0
    answer = json.loads(found.output)
    assert answer["approval_id"] == approval and answer["confidence"] > 0.999
    assert answer["requester"].startswith("bob (pseudonym hmac:")
    refused = await in_thread(config, unmarked)
    assert refused.exit_code == EXIT_NO_MATCH and refused.output.startswith("no match:")


def write_config(tmp_path, key: str | None = "test-hmac-key-0123456789abcdef"):
    config = tmp_path / "gw.yaml"
    data = {"state_dir": str(tmp_path / "state"),
            "upstreams": {"crm": {"url": "http://127.0.0.1:1"}},
            "routes": [{"name": "crm", "upstream": "crm"}]}
    if key:
        data["secrets"] = {"hmac_key": key}
    config.write_text(yaml.safe_dump(data))
    return config


def test_a_file_marked_for_an_unrecorded_export_matches_nothing(tmp_path):
    config = write_config(tmp_path)
    settings = load_config(config)
    db = open_database(settings.database_url())
    ExportTraceStore(db).record(ExportTrace("wm-recorded", "A1", "hmac:x", "proj1", "crm",
                                            "GET", CSV, "csv", 2, 0.0))
    db.close()
    secret = derive_key(settings.secrets.hmac_key.encode(), "watermark")
    cells = [f"110105********{4800 + i}" for i in range(30)]
    leaked = tmp_path / "other.csv"
    mark = Watermark(export_key(secret, "wm-someone-else")).mark
    leaked.write_text("\n".join(mark(c, [(0, len(c))]) for c in cells))
    result = CliRunner().invoke(cli, ["trace", "--config", str(config), str(leaked)])
    assert result.exit_code == EXIT_NO_MATCH
    assert "none fits any of the 1 recorded exports" in result.output
    plain = tmp_path / "plain.csv"
    plain.write_text("id,grade\n1,A\n")
    result = CliRunner().invoke(cli, ["trace", "--config", str(config), str(plain)])
    assert result.exit_code == EXIT_NO_MATCH and "no masked values" in result.output


def test_tracing_needs_the_configured_key(tmp_path):
    config = write_config(tmp_path, key=None)
    plain = tmp_path / "plain.csv"
    plain.write_text("x\n")
    result = CliRunner().invoke(cli, ["trace", "--config", str(config), str(plain)])
    assert result.exit_code == 2 and "secrets.hmac_key" in result.output
