"""``make eval``: leak and damage rates of the detection engine on labelled data.

Reads benchmarks/data/notes_zh.jsonl, notes_en.jsonl and vectors.jsonl, and builds the
structured corpus from ``gateway.demo.data`` with a seed the demo does not use. Every
document goes through ``mask_document`` with a fresh masker. A labelled value is scored
once per cell (or note) it occurs in: a PII value that still occurs in the masked cell is
a leak; a control that occurs fewer times in the masked cell than in the original one is
damage. Occurrences count only where the value does not touch an ASCII letter or digit.
Writes benchmarks/results/eval.json and prints a table. It is a report: it exits 1 only
with ``--strict``, when a target is missed or a format fails to round-trip.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import orjson

from detectors.build import build_text_recognizers
from detectors.document import mask_document
from detectors.engine import DetectionEngine, DetectionSettings
from detectors.fingerprint import Fingerprinter
from gateway.demo import data as demo
from gateway.demo.exports import csv_text, xlsx_bytes
from policies.masking import MaskingPolicy

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
RESULTS = ROOT / "results" / "eval.json"
KEY = b"eval-key-0123456789abcdef"
PROJECTS = ("proj1", "proj2")
CONTROL_KINDS = ("CUSTOMER_NO", "ORDER_NO", "AMOUNT", "DATE", "GRADE")
TARGETED_FORMATS = frozenset({"json", "csv", "csv-gb18030", "xlsx"})
LOOSE_ENTITIES = frozenset({"PERSON", "CN_ADDRESS", "LOCATION"})
ALL_CONTROLS = "ALL_CONTROLS"

Key = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Label:
    entity: str
    value: str
    pii: bool


@dataclass(slots=True)
class Tally:
    n: int = 0
    hits: int = 0
    examples: list[str] = field(default_factory=list)


Tallies = dict[Key, Tally]


def occurrences(text: str, value: str) -> int:
    """How often ``value`` occurs in ``text`` without touching an ASCII letter or digit."""
    count, start = 0, text.find(value)
    edge_first = value[:1].isascii() and value[:1].isalnum()
    edge_last = value[-1:].isascii() and value[-1:].isalnum()
    while start >= 0:
        end = start + len(value)
        before, after = text[start - 1 : start], text[end : end + 1]
        glued = (edge_first and before.isascii() and before.isalnum()) or (
            edge_last and after.isascii() and after.isalnum())
        count += not glued
        start = text.find(value, start + 1)
    return count


def score(tallies: Tallies, key: tuple[str, str, str], original: str, masked: str,
          labels: Iterable[Label]) -> None:
    """Score every label that occurs in ``original`` against ``masked``."""
    for label in labels:
        before = occurrences(original, label.value)
        if not before:
            continue
        after = occurrences(masked, label.value)
        failed = (after > 0) if label.pii else (after < before)
        names = (label.entity,) if label.pii else (label.entity, ALL_CONTROLS)
        for name in names:
            tally = tallies[(*key, "leak" if label.pii else "damage", name)]
            tally.n += 1
            tally.hits += failed
            if failed and len(tally.examples) < 3:
                tally.examples.append(_example(label, original, masked))


def _example(label: Label, original: str, masked: str) -> str:
    anchor = masked.find(label.value) if label.pii else original.find(label.value)
    start = max(0, min(anchor - 60, len(masked) - 160))
    return f"{label.value!r} in {masked[start : start + 160]!r}"


def customer_labels(customer: demo.Customer) -> list[Label]:
    pii = demo.pii_values(customer)
    labels = [Label(entity, value, True) for entity, values in pii.items() for value in values]
    controls = demo.non_pii_values(customer)
    labels += [Label(k, v, False) for k, v in zip(CONTROL_KINDS, controls, strict=True)]
    if repr(customer.amount) not in controls:
        labels.append(Label("AMOUNT", repr(customer.amount), False))
    return labels


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _html_table(customers: Sequence[demo.Customer]) -> bytes:
    head = "".join(f"<th>{name}</th>" for name in demo.CSV_FIELDS)
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in c.to_dict().values())
        + "</tr>" for c in customers)
    page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><table>'
            f"<thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table></body></html>")
    return page.encode()


_ROW = re.compile(r"<tr>(.*?)</tr>", re.DOTALL)
_TD = re.compile(r"<td>(.*?)</td>", re.DOTALL)


def _read_html(body: bytes) -> list[list[str]]:
    rows = (_TD.findall(row) for row in _ROW.findall(body.decode()))
    return [[html.unescape(cell) for cell in row] for row in rows if row]


def _read_csv(codec: str) -> Callable[[bytes], list[list[str]]]:
    return lambda body: list(csv.reader(io.StringIO(body.decode(codec), newline="")))[1:]


def _read_xlsx(body: bytes) -> list[list[str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [[_cell(v) for v in row] for row in sheet.iter_rows(min_row=2, values_only=True)]


def _read_json(body: bytes) -> list[list[str]]:
    return [[_cell(v) for v in record.values()] for record in orjson.loads(body)]


def _read_ndjson(body: bytes) -> list[list[str]]:
    return [[_cell(v) for v in orjson.loads(line).values()] for line in body.splitlines() if line]


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    scanner: str
    charset: str | None
    write: Callable[[Sequence[demo.Customer]], bytes]
    read: Callable[[bytes], list[list[str]]]


FORMATS: tuple[Format, ...] = (
    Format("json", "json", "utf-8",
           lambda cs: orjson.dumps([c.to_dict() for c in cs]), _read_json),
    Format("ndjson", "ndjson", "utf-8",
           lambda cs: b"".join(orjson.dumps(c.to_dict()) + b"\n" for c in cs), _read_ndjson),
    Format("csv", "csv", "utf-8",
           lambda cs: csv_text(cs).encode("utf-8-sig"), _read_csv("utf-8-sig")),
    Format("csv-gb18030", "csv", "gb18030",
           lambda cs: csv_text(cs).encode("gb18030"), _read_csv("gb18030")),
    Format("xlsx", "xlsx", None, xlsx_bytes, _read_xlsx),
    Format("html", "html", "utf-8", _html_table, _read_html),
)


@dataclass(slots=True)
class Run:
    engine: DetectionEngine
    tallies: Tallies = field(default_factory=lambda: defaultdict(Tally))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    sizes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, str] = field(default_factory=dict)

    def mask(self, label: str, fmt: str, body: bytes, charset: str | None) -> bytes:
        started = time.perf_counter()
        out = mask_document(fmt, body, self.engine.masker(roles=()), charset)
        self.seconds[label] += time.perf_counter() - started
        self.sizes[label] += len(body)
        return out


def run_structured(run: Run, customers: Sequence[demo.Customer], fmt: Format) -> None:
    body = fmt.write(customers)
    try:
        original, masked = fmt.read(body), fmt.read(run.mask(fmt.name, fmt.scanner, body,
                                                             fmt.charset))
    except Exception as exc:
        run.errors[fmt.name] = f"{type(exc).__name__}: {exc}"
        return
    if len(masked) != len(original):
        run.errors[fmt.name] = f"{len(original)} records in, {len(masked)} out"
        return
    for customer, before, after in zip(customers, original, masked, strict=True):
        locale = "zh" if customer.locale == demo.ZH else "en"
        labels = customer_labels(customer)
        for cell_before, cell_after in zip(before, after, strict=False):
            score(run.tallies, ("structured", fmt.name, locale), cell_before, cell_after, labels)


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def run_notes(run: Run, lang: str) -> None:
    for note in load_jsonl(DATA / f"notes_{lang}.jsonl"):
        text = note["text"]
        masked = run.mask("notes", "text", text.encode(), "utf-8").decode()
        labels = [Label(p["entity"], p["value"], True) for p in note["pii"]]
        labels += [Label(c["kind"], c["value"], False) for c in note["non_pii"]]
        score(run.tallies, ("notes", "text", lang), text, masked, labels)


def run_vectors(run: Run) -> None:
    for vector in load_jsonl(DATA / "vectors.jsonl"):
        text = vector["text"]
        masked = run.mask("vectors", "text", text.encode(), "utf-8").decode()
        label = Label(vector["entity"], vector["value"], vector["expect"] == "mask")
        score(run.tallies, ("vectors", "text", "any"), text, masked, [label])


def target(corpus: str, fmt: str, entity: str, pii: bool) -> float | None:
    if corpus == "structured":
        return 0.005 if fmt in TARGETED_FORMATS else None
    if corpus == "notes" and pii:
        return 0.10 if entity in LOOSE_ENTITIES else 0.03
    return None


def rows_of(tallies: Tallies) -> list[dict[str, Any]]:
    rows = []
    for (corpus, fmt, locale, measure, entity), tally in sorted(tallies.items()):
        limit = target(corpus, fmt, entity, measure == "leak")
        rate = tally.hits / tally.n if tally.n else 0.0
        status = "-" if limit is None else ("PASS" if rate <= limit else "FAIL")
        rows.append({"corpus": corpus, "format": fmt, "locale": locale, "measure": measure,
                     "entity": entity, "n": tally.n, "hits": tally.hits, "rate": rate,
                     "target": limit, "status": status, "examples": tally.examples})
    return rows


def _pct(row: dict[str, Any]) -> str:
    mark = "!" if row["status"] == "FAIL" else " "
    return f"{row['hits']:>4}/{row['n']:<5} {100 * row['rate']:6.2f}%{mark}"


def print_structured(rows: list[dict[str, Any]], out: Any) -> None:
    names = [f.name for f in FORMATS]
    grid: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        if row["corpus"] == "structured":
            grid[(row["locale"], row["measure"], row["entity"])][row["format"]] = row
    print("\nStructured CRM corpus, per format: hits/n and rate (leak for PII, damage for "
          "controls; ! = target missed)", file=out)
    print(f"{'loc':<4}{'measure':<8}{'entity':<15}" + "".join(f"{n:<21}" for n in names), file=out)
    for (locale, measure, entity), cells in sorted(grid.items()):
        line = "".join(f"{_pct(cells[n]) if n in cells else '-':<21}" for n in names)
        print(f"{locale:<4}{measure:<8}{entity:<15}{line}", file=out)


def print_long(rows: list[dict[str, Any]], corpus: str, out: Any) -> None:
    print(f"\n{corpus} (controls listed only when damaged): hits/n, rate, target", file=out)
    for row in rows:
        shown = row["measure"] == "leak" or row["hits"] or row["entity"] == ALL_CONTROLS
        if row["corpus"] == corpus and shown:
            limit = "-" if row["target"] is None else f"<= {100 * row['target']:.1f}%"
            print(f"  {row['locale']:<4}{row['measure']:<8}{row['entity']:<15}{_pct(row)}  "
                  f"{limit:<9}{row['status']}", file=out)


def build_engine(zh_ner: bool, en_model: str | None) -> DetectionEngine:
    engine = DetectionEngine(DetectionSettings(), MaskingPolicy(), Fingerprinter(KEY),
                             build_text_recognizers(zh_ner=zh_ner, en_model=en_model))
    mask_document("text", "客户张伟来电。Mr. John Smith called.".encode(),
                  engine.masker(roles=()), "utf-8")
    return engine


def evaluate(engine: DetectionEngine, customers: int, seed: int) -> Run:
    run = Run(engine)
    corpora = [demo.generate_customers(project, customers, seed) for project in PROJECTS]
    for fmt in FORMATS:
        for corpus in corpora:
            run_structured(run, corpus, fmt)
    for lang in ("zh", "en"):
        run_notes(run, lang)
    run_vectors(run)
    return run


def report(run: Run, settings: dict[str, Any], out: Any) -> dict[str, Any]:
    rows = rows_of(run.tallies)
    throughput = {name: run.sizes[name] / 1e6 / seconds
                  for name, seconds in run.seconds.items() if seconds > 0}
    failed = [f"{r['corpus']}/{r['format']}/{r['locale']} {r['measure']} {r['entity']}: "
              f"{100 * r['rate']:.2f}% > {100 * r['target']:.1f}%"
              for r in rows if r["status"] == "FAIL"]
    print_structured(rows, out)
    print_long(rows, "notes", out)
    print_long(rows, "vectors", out)
    print("\nThroughput (MB/s): " + ", ".join(
        f"{name} {rate:.2f}" for name, rate in throughput.items()), file=out)
    for name, error in run.errors.items():
        print(f"ERROR {name}: {error}", file=out)
    print(f"\nTargets missed: {len(failed)}", file=out)
    for line in failed:
        print(f"  {line}", file=out)
    return {"settings": settings, "rows": rows, "throughput_mb_s": throughput,
            "bytes": dict(run.sizes), "errors": run.errors, "failed_targets": failed}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval", description=__doc__)
    parser.add_argument("--customers", type=int, default=400, help="customers per project")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-zh-ner", action="store_true")
    parser.add_argument("--en-model", default=None, help="installed spaCy pipeline for English")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    run = evaluate(build_engine(not args.no_zh_ner, args.en_model), args.customers, args.seed)
    settings = {"customers_per_project": args.customers, "projects": list(PROJECTS),
                "seed": args.seed, "zh_ner": not args.no_zh_ner, "en_model": args.en_model}
    result = report(run, settings, sys.stdout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n",
                        encoding="utf-8")
    return 1 if args.strict and (result["failed_targets"] or run.errors) else 0


if __name__ == "__main__":
    sys.exit(main())
