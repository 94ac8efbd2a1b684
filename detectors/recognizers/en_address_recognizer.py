"""LOCATION: street addresses in Latin-script free text (US/UK/EU styles).

A hit is a house number, one to four capitalised words and a street suffix from the
USPS Publication 28 list (``8821 Pierce Run``, ``12 Baker Street``), optionally followed
by a unit (``Apt 4B``), a city, a state or region code and a postal code
(``West James, MO 95254``). ``Rue``/``Via``/``Calle`` forms with the number after the
street name are matched too (``Calle Mayor 12``). Regex only: no model, no download.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from presidio_analyzer import EntityRecognizer, RecognizerResult

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

__all__ = ["EnAddressRecognizer"]

_SUFFIXES = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    "Run|Circle|Cir|Terrace|Ter|Parkway|Pkwy|Square|Sq|Trail|Trl|Highway|Hwy|Crescent|"
    "Close|Grove|Gardens|Hill|Heights|Park|Point|Ridge|Row|Walk|Mews|Alley|Plaza|Loop|"
    "Pike|Path|Crossing|Cove|Creek|Glen|Harbor|Haven|Landing|Manor|Meadow|Meadows|Mill|"
    "Mount|Pass|Port|Shore|Shores|Spring|Springs|Station|Summit|Valley|View|Villa|"
    "Village|Vista|Well|Wells|Wood|Woods|Expressway|Freeway|Turnpike|Causeway"
)
_WORDS = r"(?:(?:[A-Z][A-Za-z'.-]*|\d{1,4}(?:st|nd|rd|th))\s+){1,4}"
_DIRECTION = r"(?:\s+(?:North|South|East|West|N|S|E|W|NE|NW|SE|SW)\b)?"
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|Room|Rm|#)\.?\s*[A-Za-z0-9-]{1,6})?"
_POSTCODE = (
    r"(?:,?\s*[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}"
    r"|,?\s*[A-Z]{2}(?:\s+(?:\d{5}(?:-\d{4})?|[A-Z]\d[A-Z]\s?\d[A-Z]\d))?(?![A-Za-z])"
    r"|,?\s*\d{4,5}|\s?\d{1,2}(?![0-9]))"
)
_TAIL = rf"(?:,\s*(?:[A-Z][a-zà-ÿ][A-Za-zà-ÿ'.-]*\s?){{1,3}}{_POSTCODE}?)?"
_EU_TAIL = r"(?:,\s*(?:\d{2}-\d{3}|\d{4,5})\s+[^\W\d_][\w-]+)?"
_STREET = re.compile(
    rf"(?<![A-Za-z0-9])\d{{1,6}}[A-Za-z]?\s+{_WORDS}(?:{_SUFFIXES})\.?(?![A-Za-z])"
    rf"{_DIRECTION}{_UNIT}{_TAIL}"
)
_NUMBER_FIRST = re.compile(
    r"(?<![A-Za-z0-9])\d{1,5}[a-z]?,?\s+(?:Rue|Avenue|Boulevard|Bd|Place|Allée|Chemin|Quai|"
    r"Impasse|Via|Viale|Piazza|Calle|Avenida|Rua|Praça)\s+(?:[A-Za-zÀ-ÿ'’-]+\s?){1,4}"
    rf"{_EU_TAIL}"
)
_CONTINENTAL = re.compile(
    r"(?<![A-Za-z])(?:(?:Rue|Avenue|Boulevard|Via|Viale|Calle|Avenida|Rua|Ul\.|ul\.|Aleja)"
    r"\s+(?:[^\W\d_][\w'’.-]*\s+){1,4}?"
    r"|[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer)\s+)"
    rf"\d{{1,5}}[a-z]?{_EU_TAIL}"
)


class EnAddressRecognizer(EntityRecognizer):
    """Recognize LOCATION street addresses; :meth:`find` is the fast path."""

    ENTITY: ClassVar[str] = "LOCATION"

    def __init__(self, supported_language: str = "en", name: str | None = None) -> None:
        super().__init__(supported_entities=[self.ENTITY], supported_language=supported_language,
                         name=name or type(self).__name__)

    def load(self) -> None:
        return None

    def find(self, text: str) -> list[tuple[int, int, float]]:
        found = [(m.start(), m.end(), 0.7) for m in _STREET.finditer(text)]
        found += [(m.start(), m.end(), 0.6) for m in _NUMBER_FIRST.finditer(text)]
        found += [(m.start(), m.end(), 0.6) for m in _CONTINENTAL.finditer(text)]
        return found

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if entities and self.ENTITY not in entities:
            return []
        return [RecognizerResult(self.ENTITY, start, end, score)
                for start, end, score in self.find(text)]
