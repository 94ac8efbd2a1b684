from __future__ import annotations

import dataclasses
import shutil
import threading
from datetime import UTC, datetime

import pytest

from policies.access import (
    AccessPolicy,
    Decision,
    PolicyError,
    PolicyFiles,
    canonical_for_policy,
    default_policy_files,
    identity_claims,
    tenant_from_path,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
CUSTOMERS = "/api/projects/proj1/customers"


class Clock:
    def __init__(self, at: float = NOW) -> None:
        self.at = at
        self.broken = False

    def __call__(self) -> float:
        if self.broken:
            raise OSError("clock is gone")
        return self.at


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def default(clock):
    return AccessPolicy.from_files(*default_policy_files(), clock=clock)


def write_policy(tmp_path, policy: str, grouping: str = "", name: str = "policy.csv"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    model = tmp_path / "model.conf"
    if not model.exists():
        shutil.copy(default_policy_files().model, model)
    (tmp_path / name).write_text(policy, encoding="utf-8")
    (tmp_path / "grouping.csv").write_text(grouping, encoding="utf-8")
    return PolicyFiles(model, tmp_path / name, tmp_path / "grouping.csv")


@pytest.mark.parametrize("case", [
    ("bob", (), "proj1", "GET", CUSTOMERS, "allow"),
    ("bob", (), "proj2", "GET", "/api/projects/proj2/customers", "deny"),
    ("alice", (), "proj2", "GET", "/api/projects/proj2/customers/3", "approval_required"),
    ("dave", (), "proj1", "GET", CUSTOMERS, "deny"),
    ("erin", (), "proj1", "GET", "/api/projects/proj1/customers/export.csv", "deny"),
    ("admin", (), "proj2", "DELETE", "/api/projects/proj2/customers/3", "allow"),
    ("nobody", (), None, "GET", "/api/health", "allow"),
    ("nobody", (), "proj1", "GET", CUSTOMERS, "deny"),
    ("svc", ("customer_manager@proj1",), "proj1", "GET", CUSTOMERS, "allow"),
    ("svc", ("customer_manager@proj2",), "proj1", "GET", CUSTOMERS, "deny"),
])
def test_default_policy_decisions(default, case):
    *request, outcome = case
    decision = default.decide(*request)
    assert decision.outcome == outcome
    assert decision.policy_version == default.version and len(default.version) == 16
    assert decision.reason


def test_decision_is_frozen_and_carries_the_matched_rule(default):
    decision = default.decide("bob", [], "proj1", "GET", CUSTOMERS)
    assert decision.allowed
    assert decision.rule[:3] == ("p", "role:customer_manager", "*")
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.outcome = "deny"  # type: ignore[misc]


def test_default_deny_has_no_rule(default):
    decision = default.decide("mallory", [], "proj1", "GET", CUSTOMERS)
    assert decision == Decision("deny", (), default.version, decision.reason)
    assert "default deny" in decision.reason


def test_deny_overrides_allow_whatever_the_order(tmp_path):
    files = write_policy(tmp_path, (
        "p, role:a, *, ^/x$, ^GET$, allow, -, -\n"
        "p, role:b, *, ^/x$, ^GET$, deny, -, -\n"
        "p, role:a, *, ^/x$, ^GET$, allow, -, -\n"
    ))
    policy = AccessPolicy.from_files(*files)
    assert policy.decide("u", ["a"], None, "GET", "/x").outcome == "allow"
    decision = policy.decide("u", ["a", "b"], None, "GET", "/x")
    assert (decision.outcome, decision.rule[1], decision.rule[5]) == ("deny", "role:b", "deny")


def test_precedence_is_deny_then_approval_then_allow(tmp_path):
    allow = "p, role:a, *, ^/x$, ^GET$, allow, -, -\n"
    approval = "p3, role:a, *, ^/x$, ^GET$, member, -, -\n"
    deny = "p, role:a, *, ^/x$, ^GET$, deny, -, -\n"
    outcomes = []
    for text in (allow, allow + approval, allow + approval + deny):
        policy = AccessPolicy.from_files(*write_policy(tmp_path, text))
        outcomes.append(policy.decide("u", ["a"], None, "GET", "/x").outcome)
    assert outcomes == ["allow", "approval_required", "deny"]


def test_approval_required_tells_how_to_ask(default):
    decision = default.decide("alice", [], "proj2", "GET", "/api/projects/proj2/customers")
    assert decision.outcome == "approval_required"
    assert decision.rule[0] == "p3" and decision.rule[5] == "outsider"
    assert "approver of project proj2" in decision.reason


def test_id_pattern_does_not_capture_export(default):
    own = default.decide("alice", [], "proj1", "GET", "/api/projects/proj1/customers/export.csv")
    assert own.outcome == "approval_required"
    assert "export" in own.rule[3]
    one = default.decide("alice", [], "proj1", "GET", "/api/projects/proj1/customers/12")
    assert one.outcome == "allow" and "(?!export)" in one.rule[3]


def test_method_patterns_are_full_matches_even_when_badly_anchored(tmp_path):
    files = write_policy(tmp_path, "p, *, *, ^/x$, ^(GET)|(PUT)$, allow, -, -\n")
    policy = AccessPolicy.from_files(*files)
    assert policy.decide("u", [], None, "PUT", "/x").outcome == "allow"
    assert policy.decide("u", [], None, "GET", "/x").outcome == "allow"
    assert policy.decide("u", [], None, "PUTX", "/x").outcome == "deny"
    assert policy.decide("u", [], None, "XGET", "/x").outcome == "deny"
    assert policy.decide("u", [], None, "GET", "/x/y").outcome == "deny"


def test_patterns_with_commas_are_quoted_csv(tmp_path):
    files = write_policy(tmp_path, 'p, *, *, "^/c/[0-9]{1,3}$", ^GET$, allow, -, -\n')
    policy = AccessPolicy.from_files(*files)
    assert policy.decide("u", [], None, "GET", "/c/123").outcome == "allow"
    assert policy.decide("u", [], None, "GET", "/c/1234").outcome == "deny"
    unquoted = write_policy(tmp_path, "p, *, *, ^/c/[0-9]{1,3}$, ^GET$, allow, -, -\n")
    with pytest.raises(PolicyError, match="7 fields"):
        AccessPolicy.from_files(*unquoted)


def test_default_policy_refuses_putx(default):
    assert default.decide("bob", [], "proj1", "PUTX", CUSTOMERS + "/1").outcome == "deny"


def test_path_rules_trailing_slash_case_and_tenant_binding(default):
    assert default.decide("bob", [], "proj1", "get", "/API/Projects/Proj1/Customers/").allowed
    crossed = default.decide("bob", [], "proj1", "GET", "/api/projects/proj2/customers")
    assert crossed.outcome == "deny"
    bad = default.decide("bob", [], "proj1", "GET", "/api/projects/proj1/..%2f")
    assert bad.outcome == "deny" and "canonical" in bad.reason


def test_time_bound_grant_is_compared_in_the_matcher_and_survives_reload(tmp_path, clock):
    files = write_policy(tmp_path, (
        "p, tom, proj1, ^/api/projects/{dom}/customers$, ^GET$, allow, "
        "2026-01-01T00:00:00Z, 2026-07-01T00:00:00Z\n"
    ))
    policy = AccessPolicy.from_files(*files, clock=clock)
    assert policy.decide("tom", [], "proj1", "GET", CUSTOMERS).outcome == "allow"
    clock.at = datetime(2026, 7, 1, tzinfo=UTC).timestamp()
    assert policy.decide("tom", [], "proj1", "GET", CUSTOMERS).outcome == "deny"
    ok, _ = policy.reload()
    assert ok
    assert policy.decide("tom", [], "proj1", "GET", CUSTOMERS).outcome == "deny"
    clock.at = datetime(2025, 12, 31, tzinfo=UTC).timestamp()
    assert policy.decide("tom", [], "proj1", "GET", CUSTOMERS).outcome == "deny"


def test_expired_default_grant_is_denied(default, clock):
    assert default.decide("frank", [], "proj1", "GET", CUSTOMERS).outcome == "deny"
    clock.at = datetime(2024, 2, 1, tzinfo=UTC).timestamp()
    assert default.decide("frank", [], "proj1", "GET", CUSTOMERS).outcome == "allow"


@pytest.mark.parametrize("case", [
    ("bob", (), "proj1", "CN_MOBILE", True),
    ("bob", (), "proj1", "phone_number", True),
    ("bob", (), "proj2", "CN_MOBILE", False),
    ("bob", (), "proj1", "CN_RESIDENT_ID", False),
    ("bob", (), "proj1", "SECRET", False),
    ("dave", (), "proj1", "PERSON", False),
    ("dave", ("customer_manager@proj1",), "proj1", "CN_MOBILE", False),
    ("erin", ("customer_manager@proj1",), "proj1", "CN_MOBILE", False),
    ("carol", (), "proj1", "PERSON", True),
    ("admin", (), "proj1", "CN_MOBILE", False),
    ("role:customer_manager", (), "proj1", "CN_MOBILE", False),
])
def test_field_rights(default, case):
    *request, expected = case
    assert default.may_unmask(*request) is expected


def test_roles_inherit_through_g_rows_and_identity_claims(tmp_path):
    files = write_policy(
        tmp_path,
        "p, role:reader, *, ^/api/projects/{dom}/customers$, ^GET$, allow, -, -\n",
        "g, role:senior, role:reader, *\ng, sam, role:senior, proj1\n",
    )
    policy = AccessPolicy.from_files(*files)
    assert policy.decide("sam", [], "proj1", "GET", CUSTOMERS).outcome == "allow"
    other = policy.decide("sam", [], "proj2", "GET", "/api/projects/proj2/customers")
    assert other.outcome == "deny"
    assert policy.decide("kim", "senior@proj1", "proj1", "GET", CUSTOMERS).outcome == "allow"


def test_identity_claims_scope_bare_roles_to_the_identity_tenants(default):
    claims = identity_claims(["Planner", "admin", "approver@proj3"], ["proj1", "PROJ2"])
    assert claims == ("planner@proj1", "planner@proj2", "admin", "approver@proj3")
    assert identity_claims(["customer_manager", "auditor"], []) == ("auditor",)
    roles = identity_claims(["customer_manager"], ["proj1"])
    assert default.decide("svc", roles, "proj1", "GET", CUSTOMERS).allowed
    assert not default.decide("svc", roles, "proj2", "GET", "/api/projects/proj2/customers").allowed


def test_a_user_id_cannot_pose_as_a_role(default):
    for user in ("role:admin", "*", "ad min"):
        assert default.decide(user, [], "proj1", "GET", CUSTOMERS).outcome == "deny"
    assert default.decide("admin", [], "proj1", "GET", CUSTOMERS).outcome == "allow"


@pytest.mark.parametrize(("text", "why"), [
    ("p4, *, *, ^/x$, ^GET$, allow, -, -\n", "unknown rule type"),
    ("p, *, *, ^/x$, ^GET$, allow\n", "7 fields"),
    ("p, *, *, /x, ^GET$, allow, -, -\n", "anchored"),
    ("p, *, *, ^/X$, ^GET$, allow, -, -\n", "upper-case"),
    ("p, *, *, ^/x($, ^GET$, allow, -, -\n", "does not compile"),
    ("p, *, *, ^/x$, ^GET$, permit, -, -\n", "eft must be"),
    ("p, *, *, ^/x$, ^GET$, allow, 2026-01-01T00:00:00, -\n", "UTC offset"),
    ("p, *, *, ^/x$, ^GET$, allow, 2027-01-01T00:00:00Z, 2026-01-01T00:00:00Z\n", "nbf"),
    ("p, *, PROJ1, ^/x$, ^GET$, allow, -, -\n", "domain"),
    ("p3, alice, *, ^/x$, ^GET$, outsider, -, -\n", "outsider"),
    ("g, bob, admin, *\n", "role:NAME"),
    ("g, role:a, role:b, proj1\n", "inheritance"),
])
def test_reload_refuses_a_bad_policy_and_keeps_the_old_one(tmp_path, default, text, why):
    before = default.version
    files = write_policy(tmp_path, text, name="bad.csv")
    ok, message = default.reload(*files)
    assert not ok
    assert why in message and "keeping policy " + before in message
    assert default.version == before
    assert default.decide("bob", [], "proj1", "GET", CUSTOMERS).outcome == "allow"
    with pytest.raises(PolicyError, match=why):
        AccessPolicy.from_files(*files)


@pytest.mark.parametrize(("old", "new", "why"), [
    ("m = pathMatch(", "m = eval(p.obj) && pathMatch(", "calls eval()"),
    ("r = sub, dom, obj, act", "r = sub, obj, act", "model r must be"),
    ("&& !some(where (p.eft == deny))", "", "allow-and-deny"),
    ("&& active(p.nbf, p.exp)", "&& active(p.nbf, p.exp) && 1", "non-string"),
    ("g = _, _, _", "g = _, _", "role_definition"),
])
def test_reload_refuses_a_bad_model(tmp_path, default, old, new, why):
    model = tmp_path / "model.conf"
    model.write_text(default_policy_files().model.read_text().replace(old, new, 1))
    ok, message = default.reload(model)
    assert not ok and why in message


def test_reload_reports_new_version_and_missing_files(tmp_path, default):
    files = write_policy(tmp_path, "p, *, *, ^/x$, ^GET$, allow, -, -\n")
    ok, message = default.reload(*files)
    assert ok and default.version in message
    assert default.decide("bob", [], "proj1", "GET", CUSTOMERS).outcome == "deny"
    ok, message = AccessPolicy().reload()
    assert not ok and "no model or policy" in message
    ok, message = default.reload(files.model, tmp_path / "missing.csv")
    assert not ok and "cannot read" in message


def test_no_policy_loaded_is_an_error_not_a_decision():
    policy = AccessPolicy()
    assert policy.version == ""
    with pytest.raises(PolicyError, match="no access policy"):
        policy.decide("bob", [], "proj1", "GET", CUSTOMERS)
    with pytest.raises(PolicyError):
        policy.may_unmask("bob", [], "proj1", "CN_MOBILE")


def test_internal_failure_raises_policy_error(default, clock):
    clock.broken = True
    with pytest.raises(PolicyError, match="clock is gone"):
        default.decide("bob", [], "proj1", "GET", CUSTOMERS)
    with pytest.raises(PolicyError, match="clock is gone"):
        default.may_unmask("bob", [], "proj1", "CN_MOBILE")


def test_evaluation_error_inside_casbin_raises_policy_error(default, monkeypatch):
    snapshot = default._snapshot

    def explode(*_args):
        raise RuntimeError("invalid policy size")

    monkeypatch.setattr(snapshot, "evaluate", explode)
    with pytest.raises(PolicyError, match="invalid policy size"):
        default.decide("bob", [], "proj1", "GET", CUSTOMERS)


def test_concurrent_decisions_during_reload_see_whole_policies(tmp_path):
    """Also guards the CPython 3.11 AST race in Casbin's per-call ast.parse."""
    allow = write_policy(tmp_path / "a", "p, *, *, ^/x$, ^GET$, allow, -, -\n")
    deny = write_policy(tmp_path / "b", "p, *, *, ^/x$, ^GET$, allow, -, -\n"
                        "p, *, *, ^/x$, ^GET$, deny, -, -\n")
    policy = AccessPolicy.from_files(*allow)
    version_a = policy.version
    policy.reload(*deny)
    version_b = policy.version
    expected = {version_a: "allow", version_b: "deny"}
    seen: list[tuple[str, str]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(1500):
                # A new user each time: remembered decisions must not hide the evaluation.
                decision = policy.decide(f"u{i}", [], None, "GET", "/x")
                seen.append((decision.policy_version, decision.outcome))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    reloads = 0
    while any(thread.is_alive() for thread in threads):
        assert policy.reload(*(allow if reloads % 2 else deny))[0]
        reloads += 1
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert len(seen) == 6000 and reloads > 1
    assert {version for version, _ in seen} == set(expected)
    assert all(expected[version] == outcome for version, outcome in seen)


def test_buckets_do_not_grow_with_request_tenants(default):
    for i in range(500):
        default.decide("bob", [], f"evil{i}", "GET", f"/api/projects/evil{i}/customers")
    assert len(default._snapshot._buckets) < 10


@pytest.mark.parametrize(("path", "expected"), [
    ("/api/projects/Proj1/customers/7", "proj1"),
    ("/api/projects/proj1", "proj1"),
    ("/api/notes/proj2", "proj2"),
    ("/api/projectsx/proj1/customers", None),
    ("/customers", None),
])
def test_tenant_from_path(path, expected):
    assert tenant_from_path(path) == expected


def test_tenant_from_path_custom_pattern():
    assert tenant_from_path("/t/acme/x", "/t/{tenant}") == "acme"
    with pytest.raises(ValueError, match="placeholder"):
        tenant_from_path("/t/acme", "/t/acme")


@pytest.mark.parametrize(("raw", "expected"), [
    ("/API/Customers/", "/api/customers"),
    ("/", "/"),
    ("/a/%2e%2e/b//c/", "/b/c"),
])
def test_canonical_for_policy(raw, expected):
    assert canonical_for_policy(raw) == expected


def test_remembered_decisions_flip_exactly_at_a_grant_boundary(tmp_path):
    now = [1_800_000_000.0]
    files = write_policy(tmp_path / "t",
                         "p, alice, *, ^/x$, ^GET$, allow, -, 2027-01-15T00:00:00+00:00\n")
    policy = AccessPolicy.from_files(*files, clock=lambda: now[0])
    boundary = datetime.fromisoformat("2027-01-15T00:00:00+00:00").timestamp()
    now[0] = boundary - 0.001
    assert policy.decide("alice", [], None, "GET", "/x").outcome == "allow"
    assert policy.decide("alice", [], None, "GET", "/x").outcome == "allow"  # remembered
    now[0] = boundary
    assert policy.decide("alice", [], None, "GET", "/x").outcome == "deny"
    now[0] = boundary - 10  # a clock stepping back sees the grant again
    assert policy.decide("alice", [], None, "GET", "/x").outcome == "allow"
