"""Plain text: scanned line by line as free text (locations are ``line N``)."""

from __future__ import annotations

from detectors.masker import Cell, DocumentMasker

__all__ = ["mask_text_lines"]


def mask_text_lines(text: str, masker: DocumentMasker) -> str:
    lines = text.splitlines(keepends=True)
    cells = [[Cell(None, line, f"line {i + 1}")] for i, line in enumerate(lines)]
    masked = masker.mask_batch(cells)
    return "".join(record[0] for record in masked)
