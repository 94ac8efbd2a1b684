"""Detection engine throughput against naive Presidio, measured in the same run.

Our engine masks 500 demo customers as JSON, CSV and free text (their notes, one per
line) on one core: **cold** is a fresh engine per run, **no-memo** a fresh engine with
``memo_size=1``, **warm** one engine masking the same document again (a CRM lists the same
customers again and again). Naive Presidio (``benchmarks.naive``) masks the same documents
built from the first customers only (it manages a few dozen KB/s). A leak is a raw
``pii_values`` value of the input that survives in the output. A child process streams a
generated CSV through ``CsvStreamMasker`` in 64 KB chunks and samples its RSS, with ids or
all identifiers unique per row (the worst case for the per-value memos). Timings are best
of N ``perf_counter`` runs after a warm-up; as the gateway does after start-up, long-lived
objects are moved out of the cyclic collector's sight (``gc.freeze()``) first, so a full
collection over spaCy's and Presidio's objects does not land in one run and not another.
Writes benchmarks/results/engine.json.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import multiprocessing
import resource
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import psutil
from stdnum import luhn
from stdnum.cn import ric

from benchmarks.engine_report import report
from detectors.build import build_text_recognizers
from detectors.document import mask_document
from detectors.engine import DetectionEngine, DetectionSettings, TextRecognizer
from detectors.fingerprint import Fingerprinter
from gateway.demo.data import CSV_FIELDS, Customer, generate_customers, pii_values
from policies.masking import MaskingPolicy

RESULTS = Path(__file__).resolve().parent / "results" / "engine.json"
KEY = b"bench-key-0123456789abcdef"
FORMATS = ("json", "csv", "text")
CHUNK = 64 * 1024
MB = 1_000_000
_COLUMN = {name: i for i, name in enumerate(CSV_FIELDS)}


def documents(customers: list[Customer]) -> dict[str, bytes]:
    """The same customers as a JSON list, a CSV export and their notes as text."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([CSV_FIELDS, *(_csv_row(c.to_dict(), c) for c in customers)])
    return {
        "json": orjson.dumps([c.to_dict() for c in customers]),
        "csv": buffer.getvalue().encode(),
        "text": "\n".join(c.notes for c in customers).encode(),
    }


def _csv_row(record: dict[str, Any], customer: Customer) -> list[Any]:
    record["amount"] = f"{customer.amount:.2f}"
    return list(record.values())


def mb_per_s(nbytes: int, seconds: float) -> float:
    return nbytes / MB / seconds if seconds > 0 else float("inf")


def leaks(original: str, masked: str, customers: list[Customer]) -> dict[str, Any]:
    """How many raw PII values of ``customers`` found in ``original`` survive in ``masked``."""
    tally: dict[str, list[int]] = {}
    for customer in customers:
        for entity, values in pii_values(customer).items():
            for value in values:
                if value in original:
                    counts = tally.setdefault(entity, [0, 0])
                    counts[0] += 1
                    counts[1] += value in masked
    return {"values": sum(t[0] for t in tally.values()),
            "leaked": sum(t[1] for t in tally.values()),
            "by_entity": {e: {"values": t[0], "leaked": t[1]} for e, t in tally.items()}}


def best_of(repeat: int, fn: Callable[[], object], setup: Callable[[], None] | None = None,
            ) -> dict[str, float]:
    """Best wall and CPU seconds over ``repeat`` runs of ``fn`` (``setup`` is untimed)."""
    wall, cpu = [], []
    for _ in range(repeat):
        if setup is not None:
            setup()
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {"seconds": min(wall), "cpu_seconds": min(cpu)}


def build_engine(recognizers: list[TextRecognizer], memo_size: int = 100_000) -> DetectionEngine:
    return DetectionEngine(DetectionSettings(memo_size=memo_size), MaskingPolicy(),
                           Fingerprinter(KEY), recognizers)


def measure_ours(fmt: str, body: bytes, recognizers: list[TextRecognizer],
                 repeat: int) -> dict[str, Any]:
    holder: dict[str, DetectionEngine] = {}

    def fresh(memo_size: int) -> Callable[[], None]:
        return lambda: holder.__setitem__("engine", build_engine(recognizers, memo_size))

    def mask() -> bytes:
        return mask_document(fmt, body, holder["engine"].masker(()), None)

    out: dict[str, Any] = {"bytes": len(body)}
    for name, memo_size, runs in (("cold", 100_000, repeat), ("no_memo", 1, repeat),
                                   ("warm", 100_000, 2 * repeat)):
        if name == "warm":
            fresh(memo_size)()
            mask()
        out[name] = best_of(runs, mask, None if name == "warm" else fresh(memo_size))
        out[name]["mb_s"] = mb_per_s(len(body), out[name]["seconds"])
        engine = holder["engine"]
        memos = (engine._spans, engine._masked, engine._resolved, engine.records)
        out[name]["memo_hits"] = sum(m.hits for m in memos)
        out[name]["memo_misses"] = sum(m.misses for m in memos)
    return out


def csv_stream(target_mb: float, seconds: float | None, distinct: bool) -> Iterator[bytes]:
    """Generated CSV in 64 KB chunks: 2,000 customers' rows again and again, fresh ids."""
    pool = generate_customers("bench", 2000, seed=11)
    rows = [_csv_row(c.to_dict(), c) for c in pool]
    buffer = io.StringIO(newline="")
    (writer := csv.writer(buffer)).writerow(CSV_FIELDS)
    produced, rid = 0, 0
    deadline = None if seconds is None else time.perf_counter() + seconds
    while produced < target_mb * MB and (deadline is None or time.perf_counter() < deadline):
        for row, customer in zip(rows, pool, strict=True):
            rid += 1
            writer.writerow(vary(row, customer, rid) if distinct else
                            [rid, f"C9{rid:09d}", *row[2:]])
        data = buffer.getvalue().encode()
        buffer.seek(0), buffer.truncate()
        produced += len(data)
        for i in range(0, len(data), CHUNK):
            yield data[i : i + CHUNK]


def vary(row: list[Any], customer: Customer, rid: int) -> list[Any]:
    """A copy of ``row`` whose id, phone, resident id, card and email are unique to ``rid``."""
    out = [rid, f"C9{rid:09d}", *row[2:]]
    card = customer.bank_card[:6] + f"{rid:012d}"[-(len(customer.bank_card) - 7):]
    out[_COLUMN["bank_card"]] = card + luhn.calc_check_digit(card)
    out[_COLUMN["email"]] = f"r{rid}.{customer.email}"
    if customer.locale == "zh_CN":
        first17 = customer.id_number[:14] + f"{rid % 1000:03d}"
        out[_COLUMN["id_number"]] = first17 + ric.calc_check_digit(first17 + "0")
        bare = "".join(ch for ch in customer.phone if ch.isdigit())[-11:]
        out[_COLUMN["phone"]] = bare[:3] + f"{rid % 10**8:08d}"
    return out


def measure_stream(target_mb: float, seconds: float | None, distinct: bool,
                   freeze: bool = False) -> dict[str, Any]:
    """Run in a fresh process: engine RSS after warm-up, then peak RSS while streaming.

    ``freeze`` (in the child) freezes the warm engine's objects, as the gateway does."""
    from detectors.formats.csv import CsvStreamMasker

    proc = psutil.Process()
    start_rss = proc.memory_info().rss
    engine = build_engine(build_text_recognizers(zh_ner=True, en_model=None))
    mask_document("json", documents(generate_customers("warm", 20, seed=3))["json"],
                  engine.masker(()), None)
    if freeze:
        gc.collect()
        gc.freeze()
    masker = engine.masker(())
    stream = CsvStreamMasker(masker, None, batch_rows=500)
    base = peak = proc.memory_info().rss
    checkpoints: list[tuple[float, float, float]] = []
    seen = written = 0
    w0, c0 = time.perf_counter(), time.process_time()
    for chunk in csv_stream(target_mb, seconds, distinct):
        written += len(stream.feed(chunk))
        seen += len(chunk)
        rss = proc.memory_info().rss
        peak = max(peak, rss)
        if seen // (4 * MB) != (seen - len(chunk)) // (4 * MB):
            checkpoints.append((seen / MB, rss / MB, time.perf_counter() - w0))
    written += len(stream.finish())
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"distinct": distinct, "mb_in": seen / MB, "mb_out": written / MB,
            "seconds": wall, "cpu_seconds": cpu, "mb_s": mb_per_s(seen, wall),
            "cpu_mb_s": mb_per_s(seen, cpu), "rss_start_mb": start_rss / MB,
            "rss_engine_mb": base / MB, "rss_peak_mb": peak / MB,
            "rss_growth_mb": (peak - base) / MB,
            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB,
            "hwm_mb": _high_water_mb(),
            "deny_list": len(masker._deny), "checkpoints": checkpoints}


def _high_water_mb() -> float | None:
    """The kernel's peak RSS of this process image (VmHWM), catching spikes between samples.

    Not ``ru_maxrss``: a spawned child inherits the parent's peak across fork and exec,
    so there it reports the parent's memory, not the child's.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) * 1024 / MB


def in_child(target_mb: float, seconds: float | None, distinct: bool) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure_stream, target_mb, seconds, distinct, True).result()


def run(quick: bool, csv_mb: float | None = None, csv_seconds: float | None = None,
        ) -> dict[str, Any]:
    """Without ``csv_mb`` the CSV streams stop at a time budget so the bench stays short."""
    t0 = time.perf_counter()
    repeat, naive_n = (2, 20) if quick else (5, 60)
    customers = generate_customers("proj1", 500, seed=7)
    docs, sample = documents(customers), documents(customers[:naive_n])
    recognizers = build_text_recognizers(zh_ner=True, en_model=None)
    warm_up = build_engine(recognizers)
    for fmt in FORMATS:
        mask_document(fmt, documents(customers[-10:])[fmt], warm_up.masker(()), None)
    gc.collect()
    gc.freeze()
    ours = {fmt: measure_ours(fmt, docs[fmt], recognizers, repeat) for fmt in FORMATS}
    from benchmarks.naive import measure_naive

    naive = measure_naive(sample, FORMATS, 1 if quick else 2)
    fresh = build_engine(recognizers)
    ours_out = {fmt: mask_document(fmt, sample[fmt], fresh.masker(()), None) for fmt in FORMATS}
    ours_all = mask_document("json", docs["json"], build_engine(recognizers).masker(()), None)
    budgets = (csv_seconds, csv_seconds) if csv_mb else ((8, 0) if quick else (75, 30))
    csv_mb = csv_mb or (20 if quick else 200)
    stream = in_child(csv_mb, budgets[0], distinct=False)
    distinct = in_child(csv_mb, budgets[1], distinct=True) if budgets[1] != 0 else None
    return {
        "quick": quick, "customers": len(customers), "naive_customers": naive_n,
        "ours": ours, "naive": {k: v for k, v in naive.items() if k != "outputs"},
        "leaks": {fmt: {
            "ours": leaks(sample[fmt].decode(), ours_out[fmt].decode(), customers[:naive_n]),
            "naive": leaks(sample[fmt].decode(), naive["outputs"][fmt], customers[:naive_n]),
        } for fmt in FORMATS},
        "leaks_ours_all_json": leaks(docs["json"].decode(), ours_all.decode(), customers),
        "csv_stream": stream, "csv_stream_distinct": distinct,
        "csv_target_mb": csv_mb, "csv_budget_seconds": budgets,
        "total_seconds": time.perf_counter() - t0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--csv-mb", type=float, help="CSV stream size (default: 200, or "
                        "20 with --quick, time-capped); an explicit size runs to the end")
    parser.add_argument("--csv-seconds", type=float, help="cap each CSV stream")
    args = parser.parse_args()
    results = run(args.quick, args.csv_mb, args.csv_seconds)
    print(report(results))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
