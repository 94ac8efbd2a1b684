"""``dlp-gateway scan``: find or mask PII in a file, offline, with the gateway's engine.

Exit codes: 0 nothing found (or ``--mask`` succeeded), 1 PII found (without ``--mask``),
2 usage or configuration error, 3 the input could not be parsed in its format.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from detectors.document import mask_document
from detectors.finding import ScanReport
from detectors.formats.errors import FormatError
from gateway.config import ConfigError, load_config, parse_config
from gateway.detection import build_engine

__all__ = ["EXIT_FOUND", "EXIT_PARSE", "scan"]

EXIT_FOUND = 1
EXIT_PARSE = 3
_SUFFIXES = {".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv",
             ".xlsx": "xlsx", ".html": "html", ".htm": "html", ".txt": "text"}
_FORMATS = ["auto", "json", "ndjson", "csv", "xlsx", "html", "text", "form"]
_MINIMAL = {"upstreams": {"none": {"url": "http://127.0.0.1:9"}},
            "routes": [{"name": "none", "upstream": "none"}]}


def _guess(path: str, data: bytes) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    head = data[:64].lstrip()
    if data[:2] == b"PK":
        return "xlsx"
    if head[:1] in (b"{", b"["):
        return "json"
    if head[:1] == b"<":
        return "html"
    return "text"


@click.command()
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="auto", show_default=True)
@click.option("--mask", is_flag=True, help="Write the masked document to stdout.")
@click.option("--role", "roles", multiple=True, help="Mask as a caller with this role.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="Gateway config (detection and masking sections are used).")
@click.option("--charset", default=None, help="Text encoding (default: detect).")
@click.argument("path", default="-")
def scan(fmt: str, mask: bool, roles: tuple[str, ...], config_path: str | None,  # noqa: PLR0913, PLR0917 - one per CLI option
         charset: str | None, path: str) -> None:
    """Report PII findings (one JSON line each, never the raw value) or mask a file."""
    try:
        config = load_config(config_path) if config_path else parse_config(_MINIMAL)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    key = (config.secrets.hmac_key or "dlp-gateway-scan-cli-key").encode()
    engine = build_engine(config, key)
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    fmt = _guess(path, data) if fmt == "auto" else fmt
    report = ScanReport(max_findings=100_000)
    try:
        masked = mask_document(fmt, data, engine.masker(roles, report), charset,
                               fallback_to_text=False)
    except FormatError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_PARSE)
    if mask:
        sys.stdout.buffer.write(masked)
        return
    for finding in report.findings:
        click.echo(orjson.dumps({
            "entity": finding.entity, "score": finding.score, "location": finding.location,
            "start": finding.start, "end": finding.end, "source": finding.source,
            "rule": finding.rule, "preview": finding.preview,
            "fingerprint": finding.fingerprint,
        }).decode())
    if report.total:
        sys.exit(EXIT_FOUND)
