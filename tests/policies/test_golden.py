from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policies.access import default_policy_files
from policies.golden import GoldenError, load_golden, run_golden

DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "policies" / "golden_default.yaml"


def test_default_table_passes_and_covers_the_issue():
    table = load_golden(DEFAULT_TABLE)
    failures = run_golden(table, default_policy_files())
    assert [f.describe() for f in failures] == []
    assert len(table.cases) >= 40
    outcomes = {case.expected for case in table.cases}
    assert outcomes == {"allow", "deny", "approval_required", "unmask", "mask"}
    subjects = {case.subject for case in table.cases}
    assert {"admin", "bob", "alice", "carol", "dave", "erin", "frank", "mallory"} <= subjects
    assert any(".." in case.path for case in table.cases)
    assert any(case.at is not None for case in table.cases)


def test_a_wrong_row_is_reported(tmp_path):
    table = tmp_path / "table.yaml"
    table.write_text(
        "cases:\n"
        "  - {subject: bob, method: GET, path: /api/projects/proj1/customers, expected: allow}\n"
        "  - {subject: dave, method: GET, path: /api/projects/proj1/customers, expected: allow,\n"
        "     note: deliberately wrong}\n"
        "  - {subject: bob, tenant: proj1, entity: CN_MOBILE, expected: mask}\n",
        encoding="utf-8",
    )
    failures = run_golden(table, default_policy_files())
    assert [(f.case.index, f.actual) for f in failures] == [(2, "deny"), (3, "unmask")]
    described = failures[0].describe()
    assert "#2 dave" in described and "expected allow, got deny" in described
    assert "role:auditor" in described and "deliberately wrong" in described


def test_a_table_can_name_its_policy(tmp_path):
    for path in default_policy_files():
        shutil.copy(path, tmp_path / path.name)
    table = tmp_path / "table.yaml"
    table.write_text(
        "policy: {model: model.conf, policy: policy.csv, grouping: grouping.csv}\n"
        "now: '2024-02-01T00:00:00+00:00'\n"
        "cases:\n"
        "  - {subject: frank, method: GET, path: /api/projects/proj1/customers, expected: allow}\n",
        encoding="utf-8",
    )
    assert run_golden(table) == []


@pytest.mark.parametrize(("text", "why"), [
    ("[]", "'cases' list"),
    ("cases:\n  - {subject: a, path: /x, expected: maybe}\n", "needs a path"),
    ("cases:\n  - {subject: a, path: /x, entity: PERSON, expected: mask}\n", "needs a path"),
    ("cases:\n  - {subject: a, path: /x, expected: deny, methd: GET}\n", "only"),
    ("cases:\n  - {subject: a, path: /x, expected: deny, at: '2026-01-01T00:00:00'}\n", "UTC"),
    ("cases:\n  - {subject: a, path: /x, expected: deny}\n", "no policy files"),
    ("cases: [\n", "cannot read"),
])
def test_malformed_tables_are_refused(tmp_path, text, why):
    table = tmp_path / "table.yaml"
    table.write_text(text, encoding="utf-8")
    with pytest.raises(GoldenError, match=why):
        run_golden(table)
