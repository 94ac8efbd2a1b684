"""``dlp-gateway incidents list|show|report`` on the gateway's own store."""

from __future__ import annotations

import json

from click.testing import CliRunner

from gateway.cli.main import cli
from gateway.config import load_config
from reports.database import open_database
from reports.incident import IncidentEvent
from reports.incident_store import IncidentStore


def setup(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "upstreams: {crm: {url: 'http://127.0.0.1:1'}}\n"
        "routes: [{name: crm, upstream: crm}]\n"
    )
    db = open_database(load_config(config).database_url())
    store = IncidentStore(db)
    brute, _ = store.record(IncidentEvent(
        kind="brute_force", severity="medium", rule="rate_guard.failures_per_ip",
        dedup_key="brute_force:10.0.0.9", summary="failed logins", client_ip="10.0.0.9"),
        count=99)
    leak, _ = store.record(IncidentEvent(
        kind="leak_detected", severity="critical", rule="pii_mask.no_pii_route",
        dedup_key="leak:1", summary="ids in a PII-free route", breach=True, masked=False,
        categories={"CN_RESIDENT_ID": 7}, record_count=7, subject_count=7))
    store.change(leak.id, "grace", "status", {"status": "investigating"})
    db.close()
    return str(config), brute.id, leak.id


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["incidents", *args], env=env)


def test_list_with_filters(tmp_path):
    config, brute, leak = setup(tmp_path)
    listed = invoke("--config", config, "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["id"] for line in listed.output.splitlines()] == [leak, brute]
    only = invoke("--config", config, "list", "--json", "--category", "CN_RESIDENT_ID")
    assert [json.loads(line)["id"] for line in only.output.splitlines()] == [leak]
    status = invoke("--config", config, "list", "--json", "--status", "open",
                    "--severity", "medium")
    [row] = [json.loads(line) for line in status.output.splitlines()]
    assert row["id"] == brute and row["event_count"] == 99
    table = invoke("--config", config, "list", "--since", "2000-01-01T00:00:00+00:00")
    assert table.exit_code == 0 and brute in table.output and "investigating" in table.output
    none = invoke("--config", config, "list", "--json", "--until", "946684800")
    assert none.exit_code == 0 and none.output == ""
    assert invoke("--config", config, "list", "--since", "yesterday").exit_code == 2
    assert invoke("--config", config, "list", "--status", "bogus").exit_code == 2


def test_show_and_report_in_every_format(tmp_path):
    config, _, leak = setup(tmp_path)
    shown = json.loads(invoke("--config", config, "show", leak).output)
    assert shown["incident"]["status"] == "investigating"
    assert [a["action"] for a in shown["actions"]] == ["opened", "status"]
    canonical = json.loads(invoke("--config", config, "report", leak).output)
    assert canonical["incident"] == shown["incident"]
    assert canonical["actions"] == shown["actions"]
    assert canonical["audit_checkpoint"] is None
    html = invoke("--config", config, "report", leak, "--format", "html", "--lang", "zh")
    assert html.exit_code == 0 and "个人信息安全事件报告" in html.output and leak in html.output
    out = tmp_path / "r.pdf"
    pdf = invoke("--config", config, "report", leak, "--format", "pdf", "-o", str(out))
    assert pdf.exit_code == 0 and out.read_bytes().startswith(b"%PDF-")


def test_errors_and_config_from_the_environment(tmp_path):
    config, brute, _ = setup(tmp_path)
    missing = invoke("--config", config, "show", "INC-20000101-00000000")
    assert missing.exit_code == 1 and "no incident" in missing.output
    assert invoke("--config", config, "report", brute, "--format", "docx").exit_code == 2
    assert invoke("list").exit_code == 2
    from_env = invoke("show", brute, env={"DLPGW_CONFIG": config})
    assert from_env.exit_code == 0 and json.loads(from_env.output)["incident"]["id"] == brute
