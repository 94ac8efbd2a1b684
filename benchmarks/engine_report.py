"""The text report of ``python -m benchmarks.engine`` (kept apart to keep modules short)."""

from __future__ import annotations

from typing import Any

__all__ = ["report", "stream_lines"]


def _mb_s(nbytes: int, seconds: float) -> float:
    return nbytes / 1_000_000 / seconds if seconds > 0 else float("inf")


def _cpu_lines(ours: dict[str, Any], naive: dict[str, Any]) -> list[str]:
    """The same table by CPU time: other processes on a shared machine stretch wall time."""
    if not all("cpu_seconds" in ours[f]["cold"] and "cpu_seconds" in naive[f] for f in ours):
        return []
    lines = ["same, by CPU time (other processes on the machine stretch wall time):"]
    for fmt, o in ours.items():
        cpu = {k: _mb_s(o["bytes"], o[k]["cpu_seconds"]) for k in ("cold", "no_memo", "warm")}
        naive_cpu = _mb_s(naive[fmt]["bytes"], naive[fmt]["cpu_seconds"])
        lines.append(
            f"{fmt:6} {o['bytes'] / 1000:6.0f} {cpu['cold']:7.2f} {cpu['no_memo']:8.2f} "
            f"{cpu['warm']:7.2f} {naive_cpu:7.3f} {cpu['cold'] / naive_cpu:11.0f} "
            f"{cpu['warm'] / naive_cpu:11.0f}")
    return lines


def _high_water(s: dict[str, Any]) -> str:
    if s.get("hwm_mb") is not None:
        return f"kernel high-water mark {s['hwm_mb']:.0f} MB"
    return f"ru_maxrss {s['ru_maxrss_mb']:.0f} MB, includes the parent's before spawn"


def stream_lines(name: str, s: dict[str, Any] | None) -> list[str]:
    """Throughput, RSS (start, engine warm, peak) and the RSS slope of one CSV stream."""
    if s is None:
        return [f"{name}: skipped (--quick)"]
    points, slope = s["checkpoints"], ""
    if len(points) >= 2:
        mid, last = points[(len(points) - 1) // 2], points[-1]
        per_100 = (last[1] - mid[1]) / (last[0] - mid[0]) * 100
        slope = f"; RSS slope {mid[0]:.0f}-{last[0]:.0f} MB: {per_100:+.1f} MB per 100 MB"
    return [
        f"{name}: {s['mb_in']:.1f} MB in {s['seconds']:.1f} s = {s['mb_s']:.2f} MB/s wall, "
        f"{s['cpu_mb_s']:.2f} MB/s CPU; deny-list at end {s['deny_list']} values",
        f"  RSS {s['rss_start_mb']:.0f} MB at start, {s['rss_engine_mb']:.0f} MB with the "
        f"engine warm, peak {s['rss_peak_mb']:.0f} MB (+{s['rss_growth_mb']:.0f} MB while "
        f"streaming; {_high_water(s)}){slope}",
        f"  1 GB at this rate: {1024 / s['mb_s'] / 60:.1f} min wall, "
        f"{1024 / s['cpu_mb_s'] / 60:.1f} min of one core",
    ]


def report(results: dict[str, Any]) -> str:
    ours, naive = results["ours"], results["naive"]
    lines = [
        f"engine: {results['customers']} demo customers; naive Presidio ({naive['model']}) "
        f"on the first {results['naive_customers']}; MB/s per core (best of N, wall)",
        f"{'format':6} {'KB':>6} {'cold':>7} {'no-memo':>8} {'warm':>7} {'naive':>7} "
        f"{'cold/naive':>11} {'warm/naive':>11}",
    ]
    formats = list(ours)
    for fmt in formats:
        o, n = ours[fmt], naive[fmt]
        lines.append(
            f"{fmt:6} {o['bytes'] / 1000:6.0f} {o['cold']['mb_s']:7.2f} "
            f"{o['no_memo']['mb_s']:8.2f} {o['warm']['mb_s']:7.2f} {n['mb_s']:7.3f} "
            f"{o['cold']['mb_s'] / n['mb_s']:11.0f} {o['warm']['mb_s'] / n['mb_s']:11.0f}")
    lines += _cpu_lines(ours, naive)
    lines.append(f"leaks (raw PII values of the first {results['naive_customers']} customers "
                 "that survive, ours / naive):")
    for fmt in formats:
        pair = {who: results["leaks"][fmt][who] for who in ("ours", "naive")}
        which = "; ".join(f"{who}: " + ", ".join(
            f"{e} {v['leaked']}/{v['values']}" for e, v in r["by_entity"].items() if v["leaked"])
            for who, r in pair.items() if r["leaked"])
        lines.append(f"  {fmt:5} {pair['ours']['leaked']} / {pair['naive']['leaked']} of "
                     f"{pair['ours']['values']}" + (f" ({which})" if which else ""))
    every = results["leaks_ours_all_json"]
    lines.append(f"  ours on all {results['customers']} as JSON: {every['leaked']} of "
                 f"{every['values']}")
    lines.append(f"naive build {naive['build_seconds']:.1f} s; network attempts: "
                 f"{len(naive['network_attempts'])}")
    lines += stream_lines("csv stream (pooled ids)", results["csv_stream"])
    lines += stream_lines("csv stream (distinct ids)", results["csv_stream_distinct"])
    lines.append(f"total {results['total_seconds']:.0f} s")
    return "\n".join(lines)
