"""PDF incident reports with ReportLab: A4, the same sections as the HTML report.

Chinese needs a font with CJK glyphs. In order: the configured TrueType file
(``incidents.report_cjk_font``, TTF or TTC), a TrueType CJK font found in fontconfig's
directories (known good names first, then whatever ``fc-list :lang=zh`` offers), else
ReportLab's built-in ``STSong-Light`` CID font, which is not embedded (the reader's viewer
supplies the glyphs). The choice is logged and written into the PDF's keywords.
OpenType fonts with CFF outlines (e.g. Noto Sans CJK) cannot be embedded by ReportLab and
are skipped. Latin text uses Helvetica in English reports; any run of characters outside
Latin-1 is set in the CJK font, so Chinese recipient names print in both languages.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

__all__ = ["CjkFont", "render_pdf", "resolve_cjk_font"]

log = logging.getLogger("dlpgw.reports")

_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
_CANDIDATES = ("wqy-zenhei.ttc", "wqy-microhei.ttc", "DroidSansFallbackFull.ttf",
               "NotoSansSC-Regular.ttf", "uming.ttc", "ukai.ttc", "simsun.ttc", "msyh.ttc",
               "simhei.ttf")
_CID_FALLBACK = "STSong-Light"
_NON_LATIN = re.compile("[^\x00-\xff\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u2026]+")
_WIDTH = 174 * mm
_LINE = colors.HexColor("#c9d1dc")
_HEAD = colors.HexColor("#eef2f7")
_ACCENT = colors.HexColor("#274b7a")
_RED = "#b00020"


@dataclass(frozen=True, slots=True)
class CjkFont:
    """A registered ReportLab font for CJK text; ``path`` is ``None`` for the CID font."""

    name: str
    family: str
    path: str | None

    def describe(self) -> str:
        if self.path:
            return f"{self.family} (embedded subset of {self.path})"
        return f"{self.family} (ReportLab built-in CID font, not embedded)"


def _register_ttf(path: str) -> CjkFont | None:
    name = "CJK-" + re.sub(r"[^A-Za-z0-9]+", "-", Path(path).stem)
    try:
        font = TTFont(name, path, subfontIndex=0)
    except Exception as exc:  # TTFError, OSError: an unusable file is skipped, not fatal
        log.warning("CJK font %s cannot be embedded: %s", path, type(exc).__name__)
        return None
    pdfmetrics.registerFont(font)
    pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
    family = font.face.familyName
    return CjkFont(name, family.decode() if isinstance(family, bytes) else str(family), path)


def _known_fonts() -> Iterator[str]:
    found: dict[str, str] = {}
    for root in (Path(d).expanduser() for d in _FONT_DIRS):
        if root.is_dir():
            for dirpath, _, files in os.walk(root):
                for name in set(files) & set(_CANDIDATES):
                    found.setdefault(name, os.path.join(dirpath, name))
    yield from (found[name] for name in _CANDIDATES if name in found)


def _fontconfig_fonts() -> Iterator[str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return
    try:
        out = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True,  # noqa: S603 - fixed argv, fc-list from PATH
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return
    for line in sorted(out.splitlines()):
        path = line.split(":", 1)[0].strip()
        if path.lower().endswith((".ttf", ".ttc")):
            yield path


def resolve_cjk_font(configured: str | None = None) -> CjkFont:
    if configured:
        font = _register_ttf(configured)
        if font is not None:
            return font
        log.error("the configured CJK font %s is unusable: looking for another", configured)
    for path in (*_known_fonts(), *_fontconfig_fonts()):
        font = _register_ttf(path)
        if font is not None:
            return font
    pdfmetrics.registerFont(UnicodeCIDFont(_CID_FALLBACK))
    pdfmetrics.registerFontFamily(_CID_FALLBACK, normal=_CID_FALLBACK, bold=_CID_FALLBACK,
                                  italic=_CID_FALLBACK, boldItalic=_CID_FALLBACK)
    return CjkFont(_CID_FALLBACK, _CID_FALLBACK, None)


class _Builder:
    def __init__(self, model: dict[str, Any], font: CjkFont) -> None:
        self.model = model
        self.t: dict[str, str] = model["t"]
        self.font = font
        zh = model["lang"] == "zh"
        base = font.name if zh else "Helvetica"
        bold = font.name if zh else "Helvetica-Bold"
        wrap = "CJK" if zh else None
        self.base = base
        self.body = ParagraphStyle("body", fontName=base, fontSize=9, leading=12,
                                   wordWrap=wrap)
        self.head = ParagraphStyle("head", parent=self.body, fontName=bold)
        self.mono = ParagraphStyle("mono", parent=self.body, fontName="Courier", fontSize=8,
                                   leading=10)
        self.h1 = ParagraphStyle("h1", parent=self.head, fontSize=16, leading=21,
                                 spaceAfter=4)
        self.h2 = ParagraphStyle("h2", parent=self.head, fontSize=12, leading=16,
                                 textColor=_ACCENT, spaceBefore=12, spaceAfter=4)
        self.h3 = ParagraphStyle("h3", parent=self.head, fontSize=10, leading=14,
                                 spaceBefore=8, spaceAfter=3, keepWithNext=True)
        self.note = ParagraphStyle("note", parent=self.body, textColor=colors.HexColor("#555555"))

    def text(self, value: str, style: ParagraphStyle | None = None) -> Paragraph:
        marked = _NON_LATIN.sub(lambda m: f'<font name="{self.font.name}">{m.group(0)}</font>',
                                escape(value))
        return Paragraph(marked, style or self.body)

    def table(self, rows: list[list[str]], widths: list[float], *, header: bool = True,
              mono_cols: frozenset[int] = frozenset(),
              heights: list[float] | None = None) -> Table:
        data: list[list[Flowable]] = []
        for r, row in enumerate(rows):
            cells: list[Flowable] = []
            for c, value in enumerate(row):
                style = self.head if header and r == 0 else (
                    self.mono if c in mono_cols else self.body)
                cells.append(self.text(value, style))
            data.append(cells)
        table = Table(data, colWidths=[w * _WIDTH for w in widths], rowHeights=heights,
                      repeatRows=int(header))
        commands: list[Any] = [("GRID", (0, 0), (-1, -1), 0.5, _LINE),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]
        commands.append(("BACKGROUND", (0, 0), (-1 if header else 0, 0 if header else -1),
                         _HEAD))
        table.setStyle(TableStyle(commands))
        return table

    def kv(self, rows: list[tuple[str, str]], mono: bool = False,
           heights: list[float] | None = None) -> Table:
        return self.table([[k, v] for k, v in rows], [0.3, 0.7], header=False,
                          mono_cols=frozenset({1}) if mono else frozenset(), heights=heights)

    def notifications(self) -> Table:
        t = self.t
        rows = [[t["n_regime"], t["n_recipient"], t["n_deadline"], t["n_status"], t["n_sent"],
                 t["n_reference"]]]
        rows += [[n["regime"], n["recipient"], n["deadline"], n["status_label"], n["sent"],
                  n["reference"]] for n in self.model["notifications"]]
        table = self.table(rows, [0.09, 0.26, 0.19, 0.1, 0.19, 0.17])
        for i, n in enumerate(self.model["notifications"], start=1):
            if n["status"] == "overdue":
                table.setStyle(TableStyle([("BACKGROUND", (3, i), (3, i),
                                            colors.HexColor("#fde7ea"))]))
        return table

    def signoff(self) -> Table:
        t = self.t
        keys = ["sign_name", "sign_position", "sign_decision", "sign_signature", "sign_date"]
        return self.kv([(t[k], "") for k in keys],
                       heights=[22 * mm if k == "sign_decision" else 10 * mm for k in keys])

    def section(self, title: str) -> list[Flowable]:
        return [CondPageBreak(40 * mm), self.text(title, self.h2)]

    def or_empty(self, items: list[Any], flowable: Flowable | None, empty: str) -> Flowable:
        return flowable if items and flowable is not None else self.text(empty, self.note)

    def story(self) -> list[Flowable]:
        m, t = self.model, self.t
        story: list[Flowable] = [
            self.text(t["title"], self.h1),
            self.text(f"{t['f_id']}: {m['id']} · {t['generated']}: {m['generated']} UTC",
                      self.note),
            Spacer(0, 3 * mm), self.text(t["confidential"], self.note),
            *self.section(t["s_summary"]), self.kv(m["summary"]),
            *self.section(t["s_data"]), self.kv(m["facts"]), Spacer(0, 2 * mm),
            self.or_empty(m["categories"], self.table(
                [[t["c_entity"], t["c_class"], t["c_sensitive"], t["c_count"]]]
                + [[c["entity"], c["c_class"], c["sensitive"], c["count"]]
                   for c in m["categories"]], [0.4, 0.2, 0.2, 0.2]), t["no_categories"]),
            *self.section(t["s_timeline"]),
            self.table([[t["t_time"], t["t_event"], t["t_by"], t["t_detail"]]]
                       + [[r["time"], r["event"], r["by"], r["detail"]] for r in m["timeline"]],
                       [0.22, 0.24, 0.14, 0.4]),
            *self.section(t["s_containment"]),
            self.or_empty(m["containment"], self.table(
                [[t["t_time"], t["t_event"], t["t_by"]]]
                + [[c["time"], c["action"], c["by"]] for c in m["containment"]],
                [0.22, 0.58, 0.2]), t["no_containment"]),
            *self.section(t["s_evidence"]),
            self.or_empty(m["evidence"], self.table(
                [[t["e_kind"], t["e_digest"]]] + [[k, d] for k, d in m["evidence"]],
                [0.3, 0.7], mono_cols=frozenset({1})), t["no_evidence"]),
            self.text(t["cp_title"], self.h3),
            self.kv(m["checkpoint"], mono=True) if m["checkpoint"] else self.text(
                t["cp_none"], self.note),
            *self.section(t["s_notifications"]),
            self.notifications() if m["notifications"] else self.text(t["n_none"], self.note),
            *self.section(t["s_assessment"]), self.kv(m["assessment"]),
            *self.section(t["s_closeout"]),
            self.kv(m["closeout"]) if m["closeout"] else self.text(t["no_closeout"], self.note),
            KeepTogether([self.text(t["s_signoff"], self.h2), self.signoff()]),
        ]
        return story

    def footer(self, canvas: Canvas, doc: SimpleDocTemplate) -> None:
        page = self.t["page_n"].format(n=doc.page)
        canvas.saveState()
        canvas.setFont(self.font.name if self.model["lang"] == "zh" else "Helvetica", 8)
        canvas.setFillColor(colors.HexColor("#777777"))
        canvas.drawString(18 * mm, 10 * mm, f"dlp-gateway · {self.model['id']}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, page)
        canvas.restoreState()


def render_pdf(model: dict[str, Any], font: CjkFont) -> bytes:
    """The report model (see ``reports.render.report_model``) as an A4 PDF."""
    builder = _Builder(model, font)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
        bottomMargin=18 * mm, title=f"{model['t']['title']} {model['id']}",
        author="dlp-gateway", subject=model["id"], creator="dlp-gateway",
        keywords=f"incident report; lang={model['lang']}; cjk-font: {font.describe()}",
        lang="zh-CN" if model["lang"] == "zh" else "en")
    doc.build(builder.story(), onFirstPage=builder.footer, onLaterPages=builder.footer)
    return out.getvalue()
