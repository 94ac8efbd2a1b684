"""The policy shared through the database: validated pushes, newest wins, every watcher
follows, a refused or unreadable policy keeps the running one (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from gateway.cli.main import cli
from gateway.metrics import GatewayMetrics
from gateway.policy_store import PolicyStore
from gateway.policy_watch import PolicyWatcher
from policies.access import AccessPolicy, PolicyError, PolicyFiles, default_policy_files
from reports.database import open_database

PROJ2 = "/api/projects/proj2/customers"


@pytest.fixture
def files(tmp_path: Path) -> PolicyFiles:
    found = default_policy_files()
    copies = []
    for path in found:
        assert path is not None
        copies.append(Path(shutil.copy(path, tmp_path / path.name)))
    return PolicyFiles(*copies)


@pytest.fixture
def db(database_url: str):
    opened = open_database(database_url)
    yield opened
    opened.close()


def alice_proj2(policy: AccessPolicy) -> str:
    return policy.decide("alice", (), "proj2", "GET", PROJ2).outcome


def grant_alice(files: PolicyFiles) -> None:
    assert files.grouping is not None
    files.grouping.write_text(files.grouping.read_text() + "g, alice, role:planner, proj2\n")


def test_push_validates_and_the_newest_version_wins(db, files):
    store = PolicyStore(db)
    assert store.head() is None and store.latest() is None
    first = store.push(files, "ops")
    assert store.head() == (first.id, first.version)
    assert store.push(files, "ops").id == first.id, "the same version is not stored twice"
    grant_alice(files)
    second = store.push(files, "ops")
    assert second.id > first.id and second.version != first.version
    assert files.grouping is not None
    files.grouping.write_text("g, broken\n")
    with pytest.raises(PolicyError):
        store.push(files, "ops")
    assert store.head() == (second.id, second.version)


def test_seeding_only_fills_an_empty_database(db, files):
    store = PolicyStore(db)
    seeded = store.push(files, "seed", only_if_empty=True)
    grant_alice(files)
    assert store.push(files, "seed", only_if_empty=True) == seeded


def test_replicas_follow_pushes_and_refuse_a_bad_stored_policy(db, files):
    store = PolicyStore(db)
    replicas = [AccessPolicy.from_files(*files) for _ in range(2)]
    metrics = [GatewayMetrics("t"), GatewayMetrics("t")]
    watchers = [PolicyWatcher.shared(p, m, store) for p, m in zip(replicas, metrics,
                                                                  strict=True)]
    assert store.head() is not None, "the first replica seeded the database"
    assert [w.check() for w in watchers] == [False, False]
    assert {alice_proj2(p) for p in replicas} == {"approval_required"}
    grant_alice(files)
    pushed = store.push(files, "ops")
    assert [w.check() for w in watchers] == [True, True]
    assert {p.version for p in replicas} == {pushed.version}
    assert {alice_proj2(p) for p in replicas} == {"allow"}
    with db.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO policy_versions (version, model_text, policy_text, pushed_at, "
            "pushed_by) VALUES ('bad', 'not a model', '', 0, 'intruder')"))
    assert watchers[0].check() is True
    assert replicas[0].version == pushed.version, "a refused policy keeps the running one"
    assert "dlpgw_policy_reload_failures_total 1.0" in metrics[0].render().decode()


def test_an_unreadable_database_keeps_the_policy_and_counts(db, files):
    store = PolicyStore(db)
    policy = AccessPolicy.from_files(*files)
    metrics = GatewayMetrics("t")
    watcher = PolicyWatcher.shared(policy, metrics, store)
    version = policy.version
    with db.begin() as conn:
        conn.execute(sa.text("ALTER TABLE policy_versions RENAME TO policy_gone"))
    assert watcher.check() is False
    ok, message = watcher.reload("test")
    assert not ok and "unreadable" in message and policy.version == version
    assert alice_proj2(policy) == "approval_required"
    rendered = metrics.render().decode()
    assert "dlpgw_policy_reload_failures_total 3.0" in rendered
    with db.begin() as conn:
        conn.execute(sa.text("ALTER TABLE policy_gone RENAME TO policy_versions"))


def test_cli_push(tmp_path, files, database_url):
    config = tmp_path / "gw.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f"store: {{url: '{database_url}'}}\n"
        "upstreams: {crm: {url: 'http://127.0.0.1:1'}}\n"
        "routes: [{name: crm, upstream: crm}]\n"
        f"policy: {{model: {files.model}, policy: {files.policy}, "
        f"grouping: {files.grouping}}}\n")
    runner = CliRunner()
    pushed = runner.invoke(cli, ["policy", "push", "--config", str(config), "--as", "ops"])
    assert pushed.exit_code == 0, pushed.output
    body = json.loads(pushed.stdout)
    assert body["pushed_by"] == "ops" and body["version"] == AccessPolicy.from_files(
        *files).version
    assert files.grouping is not None
    files.grouping.write_text("g, broken\n")
    refused = runner.invoke(cli, ["policy", "push", "--config", str(config)])
    assert refused.exit_code == 3 and "refused" in refused.stderr
    db = open_database(database_url)
    assert PolicyStore(db).head() == (body["id"], body["version"])
    db.close()
