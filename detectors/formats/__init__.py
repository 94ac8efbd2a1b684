"""Format scanners: each parses one format, masks values, and writes the same format."""

from detectors.formats.csv import CsvStreamMasker, mask_csv
from detectors.formats.detect import charset_of, detect_format
from detectors.formats.errors import FormatError
from detectors.formats.form import mask_form
from detectors.formats.html import mask_html
from detectors.formats.json import load_json, mask_json, mask_json_value
from detectors.formats.ndjson import NdjsonStreamMasker, mask_ndjson
from detectors.formats.text import mask_text_lines
from detectors.formats.xlsx import XlsxLimits, check_archive, mask_xlsx

__all__ = [
    "CsvStreamMasker",
    "FormatError",
    "NdjsonStreamMasker",
    "XlsxLimits",
    "charset_of",
    "check_archive",
    "detect_format",
    "load_json",
    "mask_csv",
    "mask_form",
    "mask_html",
    "mask_json",
    "mask_json_value",
    "mask_ndjson",
    "mask_text_lines",
    "mask_xlsx",
]
