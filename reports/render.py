"""Incident reports: canonical JSON, and the HTML and PDF a compliance officer sends on.

One view model (``report_model``) feeds both the Jinja2 template (autoescaped) and the
PDF builder, so the two always say the same thing. Labels come from
``templates/strings.json`` (``en`` and ``zh``). A report adds nothing to the incident but
its action log and the latest signed audit-log checkpoint: the record holds no raw PII by
contract, so neither does the report.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reports.audit_chain import Checkpoint
from reports.audit_store import latest_checkpoint
from reports.database import Database, DatabaseError
from reports.incident import Incident
from reports.render_pdf import CjkFont, render_pdf, resolve_cjk_font

__all__ = ["FORMATS", "LANGS", "ReportRenderer", "format_time", "load_strings",
           "notification_status", "report_model"]

log = logging.getLogger("dlpgw.reports")

# The HTML declares its charset itself: aiohttp's ``content_type=`` refuses a parameter.
FORMATS = {"json": "application/json", "html": "text/html; charset=utf-8",
           "pdf": "application/pdf"}
LANGS = ("en", "zh")
_TEMPLATES = Path(__file__).with_name("templates")
_MILESTONES = ("started", "detected", "aware", "reported", "contained", "closed")
_MAX_REQUEST_IDS = 5
_PLAIN_KEYS = frozenset({"note", "text", "status", "assignee", "action", "regime"})


def load_strings() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(
        (_TEMPLATES / "strings.json").read_text(encoding="utf-8"))
    return data


def format_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def notification_status(row: dict[str, Any], now: float) -> str:
    """``sent``, ``overdue``, ``pending`` or ``not_required`` for one tracker row."""
    if not row.get("required", True):
        return "not_required"
    if row.get("sent_at") is not None:
        return "sent"
    return "overdue" if row["deadline"] < now else "pending"


class _Text:
    def __init__(self, strings: dict[str, str]) -> None:
        self._s = strings

    def __call__(self, key: str) -> str:
        return self._s[key]

    def enum(self, prefix: str, value: str | None) -> str:
        if not value:
            return self._s["none"]
        return self._s.get(prefix + value, value)

    def yes_no(self, value: bool) -> str:
        return self._s["yes" if value else "no"]

    def value(self, value: object) -> str:
        return self._s["none"] if value is None or value == "" else str(value)


def _summary(t: _Text, inc: Incident) -> list[tuple[str, str]]:
    ids = inc.request_ids[:_MAX_REQUEST_IDS]
    more = " …" if len(inc.request_ids) > _MAX_REQUEST_IDS else ""
    rows = [
        (t("f_summary"), inc.summary), (t("f_kind"), t.enum("kind_", inc.kind)),
        (t("f_status"), t.enum("status_", inc.status)),
        (t("f_severity"), t.enum("sev_", inc.severity)), (t("f_rule"), inc.rule),
        (t("f_route"), t.value(inc.route)), (t("f_upstream"), t.value(inc.upstream)),
        (t("f_tenant"), t.value(inc.tenant)), (t("f_actor"), t.value(inc.actor)),
        (t("f_client_ip"), t.value(inc.client_ip)), (t("f_assignee"), t.value(inc.assignee)),
        (t("f_events"), f"{inc.event_count:,}"),
        (t("f_first_seen"), t.value(format_time(inc.created_at))),
        (t("f_last_seen"), t.value(format_time(inc.last_seen_at))),
        (t("f_requests"), t.value(", ".join(ids) + more if ids else None)),
    ]
    rows.extend((key, value) for key, value in sorted(inc.detail.items()))
    return rows


def _action_detail(t: _Text, inc: Incident, action: str, detail: dict[str, Any]) -> str:
    if action == "opened":
        return ", ".join((t.enum("kind_", str(detail.get("kind", inc.kind))),
                          str(detail.get("rule", inc.rule)),
                          t.enum("sev_", str(detail.get("severity", inc.severity)))))
    parts = []
    for key, value in detail.items():
        shown = t.enum("status_", str(value)) if key == "status" else str(value)
        parts.append(shown if key in _PLAIN_KEYS else f"{key}: {shown}")
    return "; ".join(parts)


def _timeline(t: _Text, inc: Incident, actions: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows: list[tuple[float, int, dict[str, str]]] = []
    for order, name in enumerate(_MILESTONES):
        at = inc.times.get(name)
        if at is not None:
            rows.append((at, order, {"time": format_time(at) or "", "event": t("m_" + name),
                                     "by": "", "detail": ""}))
    for action in actions:
        name = str(action["action"])
        rows.append((float(action["at"]), len(_MILESTONES), {
            "time": format_time(float(action["at"])) or "", "event": t.enum("a_", name),
            "by": str(action.get("actor") or ""),
            "detail": _action_detail(t, inc, name, action.get("detail") or {})}))
    rows.sort(key=lambda row: (row[0], row[1]))
    return [row for _, _, row in rows]


def _notifications(t: _Text, inc: Incident, now: float) -> list[dict[str, str]]:
    rows = []
    for n in inc.notifications:
        status = notification_status(n, now)
        rows.append({"regime": str(n["regime"]), "recipient": str(n.get("recipient") or ""),
                     "deadline": format_time(n["deadline"]) or "", "status": status,
                     "status_label": t("st_" + status),
                     "sent": t.value(format_time(n.get("sent_at"))),
                     "reference": t.value(n.get("reference"))})
    return rows


def _checkpoint(t: _Text, cp: Checkpoint | None) -> list[tuple[str, str]] | None:
    if cp is None:
        return None
    return [(t("cp_seq"), str(cp.seq)), (t("cp_at"), cp.at), (t("cp_head"), cp.head_hash),
            (t("cp_key"), cp.key_id), (t("cp_sig"), cp.signature)]


def _closeout(t: _Text, inc: Incident) -> list[tuple[str, str]] | None:
    if not inc.closeout:
        return None
    return [(t("f_cause"), t.value(inc.closeout.get("cause"))),
            (t("f_rectification"), t.value(inc.closeout.get("rectification"))),
            (t("f_closeout_at"), t.value(format_time(inc.closeout.get("at"))))]


def report_model(incident: Incident, actions: list[dict[str, Any]],
                 checkpoint: Checkpoint | None, *, lang: str, now: float) -> dict[str, Any]:
    """Every label and value of the report, already translated and formatted."""
    strings = load_strings()[lang]
    t = _Text(strings)
    inc = incident
    grade = inc.cac_grade or ""
    return {
        "lang": lang, "t": strings, "id": inc.id, "generated": format_time(now),
        "severity": inc.severity, "summary": _summary(t, inc),
        "facts": [(t("f_breach"), t.yes_no(inc.breach)),
                  (t("f_records"), f"{inc.record_count:,}"),
                  (t("f_subjects"), f"{inc.subject_count:,}"),
                  (t("f_masked"), t.yes_no(inc.masked))],
        "categories": [{"entity": str(c["entity"]), "c_class": str(c["c_class"]),
                        "sensitive": t.yes_no(bool(c["pipl_sensitive"])),
                        "count": f"{int(c['count']):,}"} for c in inc.categories],
        "timeline": _timeline(t, inc, actions),
        "containment": [{"time": format_time(c.get("at")) or "", "action": str(c["action"]),
                         "by": str(c.get("by") or "")} for c in inc.containment],
        "evidence": [(str(e.get("kind")), str(e.get("digest"))) for e in inc.evidence],
        "checkpoint": _checkpoint(t, checkpoint),
        "breach": inc.breach, "notifications": _notifications(t, inc, now),
        "assessment": [(t("f_cac"), t.value(grade.split(" (")[0] if lang == "zh" else grade)),
                       (t("f_gdpr"), t.enum("risk_", inc.gdpr_risk))],
        "closeout": _closeout(t, inc),
    }


class ReportRenderer:
    """``render(incident, actions, fmt, lang) -> (bytes, content_type)``, thread-safe.

    ``database`` is where the audit chain's checkpoints are (``None``: shown as n/a);
    ``cjk_font`` a TTF/TTC path for Chinese text in PDFs (else one found on the system,
    else ReportLab's built-in ``STSong-Light``).
    """

    def __init__(self, database: Database | None = None, *, cjk_font: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._cjk_font = cjk_font
        self._clock = clock
        self._env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True,
                                undefined=StrictUndefined, trim_blocks=True,
                                lstrip_blocks=True)
        self._font: CjkFont | None = None
        self._lock = threading.Lock()

    def checkpoint(self) -> Checkpoint | None:
        if self._db is None:
            return None
        try:
            with self._db.read() as conn:
                return latest_checkpoint(conn)
        except DatabaseError as exc:
            log.warning("report without an audit checkpoint: %s", type(exc).__name__)
            return None

    def font(self) -> CjkFont:
        with self._lock:
            if self._font is None:
                self._font = resolve_cjk_font(self._cjk_font)
                log.info("PDF reports use the CJK font %s", self._font.describe())
            return self._font

    def __call__(self, incident: Incident, actions: list[dict[str, Any]], fmt: str,
                 lang: str) -> tuple[bytes, str]:
        if fmt not in FORMATS or lang not in LANGS:
            raise ValueError(f"format must be one of {sorted(FORMATS)} and lang one of {LANGS}")
        checkpoint = self.checkpoint()
        if fmt == "json":
            doc = {"incident": incident.to_json(), "actions": actions,
                   "audit_checkpoint": asdict(checkpoint) if checkpoint else None}
            return orjson.dumps(doc, option=orjson.OPT_INDENT_2), FORMATS[fmt]
        model = report_model(incident, actions, checkpoint, lang=lang, now=self._clock())
        if fmt == "html":
            html = self._env.get_template("report.html").render(model)
            return html.encode("utf-8"), FORMATS[fmt]
        return render_pdf(model, self.font()), FORMATS[fmt]
