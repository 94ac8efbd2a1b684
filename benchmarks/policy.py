"""Access-policy overhead per decision: the default policy, and 1,000 users × 50 tenants.

``python -m benchmarks.policy`` prints p50/p99 of ``AccessPolicy.evaluate`` (the whole
evaluation: canonicalisation, role merge, Casbin ``enforce_ex`` on the route and
approval contexts; the targets apply to it), of ``decide`` on a repeated request
(answered from the snapshot's remembered decisions) and of ``may_unmask``, as wall time
and as thread CPU time. The host shares its cores, so wall-time p99 includes scheduler
stalls; a fixed pure-Python loop is timed the same way to show that noise floor.
Buckets (see ``policies.snapshot``) are built by a warm-up pass first; its cost is
reported as "cold".

The large policy is the default policy plus, for each of 50 tenants ``t000``..``t049``, a
tenant-specific deny, a time-bound user grant and a field right (150 rows), and 1,000
users holding one role in a home tenant, 30% a second role in another tenant and 2% a
global role. Requests mix the demo routes, 70% in the user's home tenant.

Targets: p50 ≤ 0.3 ms (default policy) and ≤ 1 ms (large policy).
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from policies.access import AccessPolicy, PolicyFiles, default_policy_files

Request = tuple[str, tuple[str, ...], str | None, str, str]
ROLES = ("customer_manager", "planner", "approver", "external_partner")
ROUTES = (
    ("GET", "/api/projects/{t}/customers"),
    ("GET", "/api/projects/{t}/customers/{n}"),
    ("PUT", "/api/projects/{t}/customers/{n}"),
    ("GET", "/api/projects/{t}/customers/export.csv"),
    ("GET", "/api/projects/{t}/customers/export.xlsx"),
    ("GET", "/api/notes/{t}"),
    ("GET", "/api/health"),
)
DEFAULT_USERS = ("admin", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "mallory")
ENTITIES = ("CN_MOBILE", "PERSON", "CN_RESIDENT_ID", "EMAIL_ADDRESS")


def large_policy(directory: Path, rng: random.Random) -> tuple[PolicyFiles, dict[str, str]]:
    """Write the 1,000 × 50 policy; return its files and each user's home tenant."""
    default = default_policy_files()
    tenants = [f"t{i:03d}" for i in range(50)]
    rows = [default.policy.read_text(encoding="utf-8")]
    for i, tenant in enumerate(tenants):
        rows.append(f"p, role:planner, {tenant}, ^/api/notes/{{dom}}$, ^.*$, deny, -, -")
        rows.append(f"p, u{i * 20:04d}, {tenant}, ^/api/projects/{{dom}}/customers$, ^GET$, "
                    "allow, 2025-01-01T00:00:00Z, 2099-01-01T00:00:00Z")
        rows.append(f"p2, role:planner, {tenant}, ^PERSON$, allow, -, -")
    grouping, homes = [], {}
    for n in range(1000):
        user, home = f"u{n:04d}", rng.choice(tenants)
        homes[user] = home
        grouping.append(f"g, {user}, role:{rng.choice(ROLES)}, {home}")
        if rng.random() < 0.3:
            grouping.append(f"g, {user}, role:{rng.choice(ROLES)}, {rng.choice(tenants)}")
        if rng.random() < 0.02:
            grouping.append(f"g, {user}, role:{rng.choice(('admin', 'auditor'))}, *")
    shutil.copy(default.model, directory / "model.conf")
    (directory / "policy.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (directory / "grouping.csv").write_text("\n".join(grouping) + "\n", encoding="utf-8")
    files = PolicyFiles(directory / "model.conf", directory / "policy.csv",
                        directory / "grouping.csv")
    return files, homes


def requests(rng: random.Random, homes: dict[str, str], count: int) -> list[Request]:
    users = list(homes)
    tenants = sorted(set(homes.values()))
    out: list[Request] = []
    for _ in range(count):
        user = rng.choice(users)
        tenant = homes[user] if rng.random() < 0.7 else rng.choice(tenants)
        method, template = rng.choice(ROUTES)
        path = template.format(t=tenant, n=rng.randrange(1, 500))
        out.append((user, (), tenant if "{t}" in template else None, method, path))
    return out


def percentiles(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (ordered[len(ordered) // 2] / 1000,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000)


def timed(calls: list[Callable[[], object]]) -> tuple[list[int], list[int]]:
    wall, cpu = [], []
    for call in calls:
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        call()
        cpu.append(time.thread_time_ns() - c0)
        wall.append(time.perf_counter_ns() - w0)
    return wall, cpu


def report(label: str, wall: list[int], cpu: list[int]) -> None:
    (w50, w99), (c50, c99) = percentiles(wall), percentiles(cpu)
    print(f"  {label:<24} wall p50 {w50:7.1f} µs  p99 {w99:8.1f} µs   "
          f"cpu p50 {c50:7.1f} µs  p99 {c99:8.1f} µs")


def run(name: str, policy: AccessPolicy, batch: list[Request], rounds: int) -> float:
    print(f"{name}: {len(batch)} requests × {rounds} rounds, policy {policy.version}")
    cold = [lambda r=r: policy.evaluate(*r) for r in batch]
    report("evaluate (cold buckets)", *timed(cold))
    wall, cpu = [], []
    for _ in range(rounds):
        w, c = timed(cold)
        wall += w
        cpu += c
    report("evaluate (Casbin)", wall, cpu)
    remembered = [lambda r=r: policy.decide(*r) for r in batch]
    timed(remembered)
    report("decide (remembered)", *timed(remembered))
    unmask = [lambda r=r, e=e: policy.may_unmask(r[0], r[1], r[2], e)
              for r in batch[:2000] for e in ENTITIES[:1]]
    report("may_unmask", *timed(unmask))
    return percentiles(wall)[0]


def noise_floor(count: int) -> None:
    report("noise (fixed py loop)", *timed([lambda: sum(range(2000))] * count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    default = AccessPolicy.from_files(*default_policy_files())
    homes = {user: rng.choice(("proj1", "proj2")) for user in DEFAULT_USERS}
    p50_default = run("default policy", default, requests(rng, homes, args.requests), args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        files, homes = large_policy(Path(tmp), rng)
        started = time.perf_counter()
        large = AccessPolicy.from_files(*files)
        loaded_ms = (time.perf_counter() - started) * 1e3
        print(f"\n1,000 users × 50 tenants: loaded in {loaded_ms:.0f} ms")
        p50_large = run("large policy", large, requests(rng, homes, args.requests), args.rounds)
    print()
    noise_floor(args.requests)
    print(f"\ntargets: default p50 {p50_default:.1f} µs ≤ 300 µs "
          f"{'OK' if p50_default <= 300 else 'MISSED'}; "
          f"large p50 {p50_large:.1f} µs ≤ 1000 µs {'OK' if p50_large <= 1000 else 'MISSED'}")


if __name__ == "__main__":
    main()
