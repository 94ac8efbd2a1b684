from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from gateway.approvals.store import ApprovalRequest, ApprovalStore
from gateway.cli.main import cli
from gateway.config import load_config


def setup(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "upstreams: {crm: {url: 'http://127.0.0.1:1'}}\n"
        "routes: [{name: crm, upstream: crm}]\n"
    )
    store = ApprovalStore.open(load_config(config).database_url())
    request = ApprovalRequest("GET", "/api/projects/proj1/customers/export.csv", "hmac:x",
                              "audit", 300)
    approval = asyncio.run(store.create("bob", "proj1", request))
    store.close()
    return str(config), approval.id


def test_list_show_approve_and_refusals(tmp_path):
    config, approval_id = setup(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(cli, ["approvals", "--config", config, "list", "--state", "pending"])
    assert listed.exit_code == 0 and json.loads(listed.output)["id"] == approval_id
    own = runner.invoke(cli, ["approvals", "--config", config, "approve", approval_id,
                              "--as", "bob", "--tenant", "proj1"])
    assert own.exit_code == 1 and "self_approval" in own.output
    outsider = runner.invoke(cli, ["approvals", "--config", config, "approve", approval_id,
                                   "--as", "zoe", "--tenant", "proj2"])
    assert outsider.exit_code == 1 and "wrong_tenant" in outsider.output
    ok = runner.invoke(cli, ["approvals", "--config", config, "approve", approval_id,
                             "--as", "carol", "--tenant", "proj1", "--comment", "fine"])
    assert ok.exit_code == 0 and json.loads(ok.output)["state"] == "approved"
    revoked = runner.invoke(cli, ["approvals", "--config", config, "revoke", approval_id,
                                  "--as", "admin"])
    assert json.loads(revoked.output)["state"] == "revoked"
    shown = runner.invoke(cli, ["approvals", "--config", config, "show", approval_id])
    assert json.loads(shown.output)["state"] == "revoked"
    missing = runner.invoke(cli, ["approvals", "--config", config, "show", "nope"])
    assert missing.exit_code == 1
