from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gateway.cli.policy import EXIT_POLICY, policy
from policies.access import default_policy_files

DEFAULT_TABLE = Path(__file__).resolve().parents[3] / "policies" / "golden_default.yaml"


def run(*args: str):
    return CliRunner().invoke(policy, list(args))


def test_check_prints_the_decision_as_json():
    result = run("check", "--user", "bob", "GET", "/api/projects/proj1/customers")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert set(decision) == {"decision", "rule", "policy_version", "reason"}
    assert decision["decision"] == "allow"
    assert decision["rule"][:2] == ["p", "role:customer_manager"]
    assert len(decision["policy_version"]) == 16


def test_check_takes_roles_tenant_and_raw_paths():
    result = run("check", "--user", "svc", "--role", "planner@proj1", "GET",
                 "/api/projects/proj1/customers/%2e%2e/../proj2/customers")
    assert json.loads(result.output)["decision"] == "approval_required"
    result = run("check", "--user", "svc", "--role", "planner@proj1", "--tenant", "proj2",
                 "GET", "/api/projects/proj1/customers")
    assert json.loads(result.output)["decision"] == "deny"


def test_check_reads_the_policy_section_of_a_config(tmp_path):
    (tmp_path / "only.csv").write_text("p, *, *, ^/x$, ^GET$, allow, -, -\n", encoding="utf-8")
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"policy:\n  model: {default_policy_files().model}\n  policy: only.csv\n",
        encoding="utf-8",
    )
    result = run("check", "--config", str(config), "--user", "anyone", "GET", "/x")
    assert json.loads(result.output)["decision"] == "allow"


def test_check_exits_3_on_a_bad_policy(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("p, *, *, /x, ^GET$, allow, -, -\n", encoding="utf-8")
    result = run("check", "--policy", str(bad), "--user", "bob", "GET", "/x")
    assert result.exit_code == EXIT_POLICY
    assert "anchored" in result.output


def test_test_reports_counts_and_passes():
    result = run("test", str(DEFAULT_TABLE))
    assert result.exit_code == 0, result.output
    passed = int(result.output.split()[0])
    assert result.output.strip() == f"{passed} passed, 0 failed" and passed >= 40


def test_test_fails_with_a_wrong_row(tmp_path):
    table = tmp_path / "table.yaml"
    table.write_text(
        "cases:\n"
        "  - {subject: alice, method: GET, path: /api/projects/proj2/customers, expected: allow}\n"
        "  - {subject: alice, method: GET, path: /api/projects/proj1/customers, expected: allow}\n",
        encoding="utf-8",
    )
    result = run("test", str(table))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[-1] == "1 passed, 1 failed"
    assert lines[0].startswith("FAIL #1 alice") and "approval_required" in lines[0]


def test_test_exits_3_on_a_malformed_table(tmp_path):
    table = tmp_path / "table.yaml"
    table.write_text("cases: nope\n", encoding="utf-8")
    assert run("test", str(table)).exit_code == EXIT_POLICY
