"""Per-export watermarks: marking only masked runs, reading them back, scoring keys."""

from __future__ import annotations

import math

import pytest

from detectors.watermark import (
    ALT_GLYPHS,
    GLYPH,
    Watermark,
    alt_glyph,
    export_key,
    read_marks,
    score,
)

SECRET = b"s" * 32
KEY_A = export_key(SECRET, "wm-a")
KEY_B = export_key(SECRET, "wm-b")
CELLS = [f"1101{i:02d}********{1000 + 7 * i}" for i in range(40)]


def normalise(text: str) -> str:
    for glyph in ALT_GLYPHS:
        text = text.replace(glyph, GLYPH)
    return text


def mark_all(key: bytes, cells: list[str]) -> list[str]:
    return [Watermark(key).mark(cell, [(0, len(cell))]) for cell in cells]


def test_marks_change_only_mask_glyphs():
    marked = mark_all(KEY_A, CELLS)
    assert marked != CELLS
    assert [normalise(cell) for cell in marked] == CELLS
    assert any(ALT_GLYPHS[0] in cell for cell in marked)


def test_runs_outside_the_masked_regions_are_left_alone():
    text = "**VIP** customer, ID 110105********4803"
    start = text.index("110105")
    marked = Watermark(KEY_A).mark(text, [(start, len(text))])
    assert marked.startswith("**VIP** customer, ID 110105")
    assert normalise(marked) == text
    assert Watermark(KEY_A).mark("no masks here", [(0, 5)]) == "no masks here"


def test_the_right_key_agrees_on_every_glyph_and_others_do_not():
    marks = set().union(*(read_marks(cell) for cell in mark_all(KEY_A, CELLS)))
    right, wrong = score(KEY_A, marks), score(KEY_B, marks)
    assert right.agree == right.total == 8 * len(CELLS)
    assert 0.35 < wrong.fraction < 0.65
    assert right.log_p == pytest.approx(-right.total * math.log(2))
    assert wrong.log_p > -20


def test_an_unmarked_text_fits_no_key():
    marks = set().union(*(read_marks(cell) for cell in CELLS))
    evidence = score(KEY_A, marks)
    assert not evidence.alt_seen
    assert evidence.log_p > -20


def test_marks_survive_reordering_and_surrounding_text():
    marked = mark_all(KEY_A, CELLS)
    as_csv = "\n".join(f'{i},"{cell}",note' for i, cell in reversed(list(enumerate(marked))))
    evidence = score(KEY_A, read_marks(as_csv))
    assert evidence.agree == evidence.total == 8 * len(CELLS)


@pytest.mark.parametrize(("charset", "glyph"), [
    (None, "\u2217"), ("utf-8", "\u2217"), ("gb18030", "\u2217"), ("gbk", "\ufe61"),
    ("big5", "\ufe61"), ("latin-1", None), ("no-such-charset", "\u2217"),
])
def test_the_look_alike_fits_the_charset(charset, glyph):
    assert alt_glyph(charset) == glyph
