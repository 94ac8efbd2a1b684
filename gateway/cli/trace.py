"""``dlp-gateway trace FILE``: which approved export a leaked file (or a piece of it) came from.

Reads every masked value of the file (CSV, XLSX, JSON, NDJSON or text), scores its mask
glyphs against the watermark key of every export in ``export_traces`` and reports the
best one with a confidence: 1 − (exports tried × the chance that an unrelated file agrees
this well). Exit codes: 0 an export matched, 1 nothing matched (or nothing to read),
2 usage or configuration error, 3 the file could not be read.
"""

from __future__ import annotations

import asyncio
import io
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import orjson

from detectors.document import decode_text
from detectors.watermark import Evidence, Mark, export_key, read_marks, score
from gateway.approvals.store import ApprovalStore
from gateway.config import ConfigError, load_config
from gateway.detection import derive_key
from reports.database import open_database
from reports.export_trace import ExportTrace, ExportTraceStore

__all__ = ["EXIT_NO_MATCH", "EXIT_UNREADABLE", "Verdict", "file_texts", "trace", "verdict"]

EXIT_NO_MATCH = 1
EXIT_UNREADABLE = 3


@dataclass(frozen=True, slots=True)
class Verdict:
    """The best candidate, its evidence, and the confidence after ``tried`` exports."""

    trace: ExportTrace | None
    evidence: Evidence
    tried: int
    glyphs: int

    @property
    def confidence(self) -> float:
        if self.trace is None:
            return 0.0
        log_false = self.evidence.log_p + math.log(max(self.tried, 1))
        return 1.0 - math.exp(min(log_false, 0.0))

    @property
    def log10_false(self) -> float:
        """log10 of the chance that this match is a coincidence (Bonferroni bound)."""
        return min(0.0, (self.evidence.log_p + math.log(max(self.tried, 1))) / math.log(10))


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


def _xlsx_texts(data: bytes) -> Iterator[str]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                yield from (cell for cell in row if isinstance(cell, str))
    finally:
        book.close()


def file_texts(data: bytes) -> Iterator[str]:
    """The strings of a file: XLSX cells, JSON/NDJSON string values, else the decoded text."""
    if data[:2] == b"PK":
        yield from _xlsx_texts(data)
        return
    text, _ = decode_text(data, None)
    text = text.removeprefix("\ufeff")
    if text.lstrip()[:1] in ("[", "{"):
        lines = [text] if text.lstrip()[:1] == "[" else text.splitlines()
        try:
            values = [orjson.loads(line) for line in lines if line.strip()]
        except orjson.JSONDecodeError:
            pass
        else:
            yield from _json_strings(values)
            return
    yield text


def verdict(marks: set[Mark], traces: list[ExportTrace], secret: bytes) -> Verdict:
    best: tuple[float, ExportTrace | None, Evidence] = (0.0, None, Evidence(0, 0, False))
    for candidate in traces:
        evidence = score(export_key(secret, candidate.watermark_id), marks)
        if evidence.log_p < best[0]:
            best = (evidence.log_p, candidate, evidence)
    glyphs = sum(min(m.length, 256) for m in marks)
    return Verdict(best[1], best[2], len(traces), glyphs)


def _requester(url: str, trace_row: ExportTrace) -> str:
    store = ApprovalStore.open(url)
    try:
        approval = asyncio.run(store.get(trace_row.approval_id))
    except Exception:
        approval = None
    finally:
        store.close()
    if approval is None:
        return f"pseudonym {trace_row.requester} (approval not found)"
    return f"{approval.requester} (pseudonym {trace_row.requester})"


def _report(result: Verdict, url: str, as_json: bool) -> None:
    row = result.trace
    payload: dict[str, Any] = {
        "match": row is not None, "confidence": result.confidence,
        "log10_false_match": round(result.log10_false, 1),
        "agreeing_glyphs": result.evidence.agree, "glyphs": result.evidence.total,
        "exports_tried": result.tried}
    if row is not None:
        payload.update(approval_id=row.approval_id, requester=_requester(url, row),
                       tenant=row.tenant, route=row.route, method=row.method, path=row.path,
                       format=row.format, records=row.records, watermark_id=row.watermark_id,
                       exported_at=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                 time.gmtime(row.created_at)))
    if as_json:
        click.echo(orjson.dumps(payload).decode())
        return
    if row is None and not result.glyphs:
        click.echo("no match: the file holds no masked values, so no watermark to read")
        return
    if row is None:
        click.echo(f"no match: {result.glyphs} mask glyphs read, none fits any of the "
                   f"{result.tried} recorded exports (best agreement "
                   f"{result.evidence.agree}/{result.evidence.total})")
        return
    click.echo(f"MATCH approval {row.approval_id} (watermark {row.watermark_id})")
    for key in ("requester", "exported_at", "tenant", "method", "path", "format", "records"):
        click.echo(f"  {key:12} {payload[key]}")
    click.echo(f"  confidence   {result.confidence:.6f} (chance of a coincidence "
               f"<= 1e{result.log10_false:.0f}; {result.evidence.agree}/"
               f"{result.evidence.total} glyphs agree, {result.tried} exports tried)")


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(
    dir_okay=False, exists=True), help="Gateway config (secrets.hmac_key, store.url).")
@click.option("--min-confidence", default=0.999, show_default=True, type=click.FloatRange(0, 1),
              help="Report a match only at or above this confidence.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def trace(config_path: str, min_confidence: float, as_json: bool, path: Path) -> None:
    """Tell which approved export FILE came from (requester, time, approval id)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if not config.secrets.hmac_key:
        raise click.UsageError("secrets.hmac_key is not set: watermarks made with a random "
                               "key cannot be traced")
    try:
        marks: set[Mark] = set()
        for text in file_texts(path.read_bytes()):
            marks |= read_marks(text)
    except Exception as exc:
        click.echo(f"cannot read {path}: {type(exc).__name__}", err=True)
        raise SystemExit(EXIT_UNREADABLE) from None
    database = open_database(config.database_url())
    try:
        traces = ExportTraceStore(database).list()
    finally:
        database.close()
    secret = derive_key(config.secrets.hmac_key.encode(), "watermark")
    result = verdict(marks, traces, secret)
    if result.confidence < min_confidence:
        result = Verdict(None, result.evidence, result.tried, result.glyphs)
    _report(result, config.database_url(), as_json)
    if result.trace is None:
        raise SystemExit(EXIT_NO_MATCH)
