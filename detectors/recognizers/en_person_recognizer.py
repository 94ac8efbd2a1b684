"""PERSON in Latin-script free text, without a neural model.

A candidate is two or three capitalised words (``Steven Robinson``, ``Jean-Luc Moreau``,
``Mary J. Watson``). It is a person when its first word is a known given name, when a
title precedes it (``Mr``, ``Mrs``, ``Dr``…), or when a cue word precedes it
(``customer``, ``from``, ``contact``…) and its last word is a known family name. Name
lists come from the Faker package's person providers for several locales (taken from
public census and registry lists), loaded from the installed package: nothing is
downloaded. A spaCy pipeline can still be configured for more recall, at far higher cost.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, ClassVar

from presidio_analyzer import EntityRecognizer, RecognizerResult

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

__all__ = ["EnPersonRecognizer"]

_WORD = r"[A-Z][a-zà-ÿ]*(?:[-'’]?[A-Z][a-zà-ÿ]+)*(?<=[a-zà-ÿ])"
_CANDIDATE = re.compile(
    rf"(?<![A-Za-z])({_WORD})(?:\s+([A-Z])\.)?(?:\s+({_WORD}))(?:\s+({_WORD}))?(?![A-Za-z])"
)
_TITLE = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Mx|Sir|Madam|Mme|Mlle|Herr|Frau)\.?\s+)$")
_CUE = re.compile(
    r"(?:\b(?:customer|client|caller|contact|from|by|with|to|for|spoke|called|named|"
    r"applicant|holder|tenant|buyer|owner|spouse|wife|husband|son|daughter|mother|father|"
    r"agent|manager|dear|hi|hello)\s*[:,]?\s+)$",
    re.IGNORECASE,
)
_LOCALES = ("en_US", "en_GB", "en_IN", "fr_FR", "de_DE", "es_ES", "it_IT", "nl_NL", "pt_BR")


def _load(attr: str) -> frozenset[str]:
    names: set[str] = set()
    for locale in _LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        names.update(str(n) for n in getattr(provider, attr, ()))
    return frozenset(n for n in names if n[:1].isupper() and n.isalpha() and len(n) > 1)


class EnPersonRecognizer(EntityRecognizer):
    """Recognize PERSON in English (Latin-script) text; :meth:`find` is the fast path."""

    NOT_NAMES: ClassVar[frozenset[str]] = frozenset({
        "Will", "May", "June", "April", "August", "Mark", "Bill", "Grant", "Chase", "Dean",
        "Hope", "Faith", "Joy", "Summer", "Winter", "Autumn", "Rose", "Ray", "Sunny",
        "Street", "Road", "Avenue", "Bank", "Card", "Customer", "Service", "Team",
    })

    NOT_FIRST: ClassVar[frozenset[str]] = frozenset({
        "The", "This", "That", "These", "Our", "Your", "Their", "His", "Her", "Its", "Customer",
        "Client", "Agent", "Please", "Dear", "Note", "Ticket", "Order", "Invoice", "Account",
        "Bank", "Card", "Property", "Delivery", "Complaint", "Callback", "Manager", "Team",
        "Service", "Support", "Sales", "Lot", "Unit", "Building", "Tower", "North", "South",
        "East", "West", "New", "Old", "Saint", "St", "Mount", "Lake", "Port", "Fort", "Great",
        "Royal", "National", "First", "Second", "Third", "Mr", "Mrs", "Ms", "Dr", "Monday",
        "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    })

    def __init__(self, supported_language: str = "en", name: str | None = None) -> None:
        self._first = _load("first_names") - self.NOT_NAMES
        self._last = _load("last_names")
        super().__init__(supported_entities=["PERSON"], supported_language=supported_language,
                         name=name or type(self).__name__)

    def load(self) -> None:
        return None

    def find(self, text: str) -> list[tuple[int, int, float]]:
        found = []
        pos = 0
        while (match := _CANDIDATE.search(text, pos)) is not None:
            words = [w for w in match.groups() if w and len(w) > 1]
            score = self._score(text, match, words)
            if score:
                found.append((match.start(), match.end(), score))
                pos = match.end()
            else:
                # "Customer Emily Carter": retry from the second capitalised word.
                pos = match.start(3) if match.group(3) else match.end()
        return found

    def _score(self, text: str, match: re.Match[str], words: list[str]) -> float:
        before = text[max(0, match.start() - 24) : match.start()]
        first = words[0].split("-")[0]
        if _TITLE.search(before):
            return 0.85
        if first in self._first and (words[-1] in self._last or len(words) >= 2):
            return 0.8 if words[-1] in self._last else 0.6
        if words[-1] in self._last and first not in self.NOT_FIRST:
            return 0.6 if _CUE.search(before) else 0.5
        return 0.0

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if entities and "PERSON" not in entities:
            return []
        return [RecognizerResult("PERSON", start, end, score)
                for start, end, score in self.find(text)]
