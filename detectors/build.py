"""Build the engine's optional parts: free-text recognizers and user recognizers.

Everything loads from installed packages; nothing is downloaded. A configured spaCy
pipeline that is not installed is an error at start-up, never a silent fallback.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer

from detectors.engine import TextRecognizer

__all__ = [
    "RecognizerSpec",
    "SpacyEntityRecognizer",
    "build_text_recognizers",
    "build_user_recognizers",
]

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True, slots=True)
class RecognizerSpec:
    name: str
    entity: str
    patterns: Sequence[str] = ()
    score: float = 0.8
    deny_list: Sequence[str] = ()
    context: Sequence[str] = ()
    class_path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


class _Gated:
    """Runs a recognizer only on text its script gate accepts (CJK, or Latin words)."""

    def __init__(self, inner: Any, gate: re.Pattern[str]) -> None:
        self._inner = inner
        self._gate = gate
        self.entity = str(inner.supported_entities[0])

    def applies(self, text: str) -> bool:
        return self._gate.search(text) is not None

    def find(self, text: str) -> list[tuple[int, int, float]]:
        return list(self._inner.find(text))


class SpacyEntityRecognizer:
    """English NER from an installed spaCy pipeline (PERSON, and GPE/LOC as LOCATION)."""

    _LABELS: ClassVar[dict[str, str]] = {
        "PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
    }

    def __init__(self, model: str, entity: str) -> None:
        import spacy

        try:
            self._nlp = spacy.load(model, disable=["parser", "lemmatizer", "tagger"])
        except OSError as exc:
            raise ValueError(f"spaCy pipeline {model!r} is not installed: {exc}") from None
        self.entity = entity

    def applies(self, text: str) -> bool:
        # Mostly-Chinese text with a few Latin letters confuses an English model.
        return _LATIN.search(text) is not None and len(_CJK.findall(text)) * 10 < len(text)

    def find(self, text: str) -> list[tuple[int, int, float]]:
        doc = self._nlp(text)
        return [(ent.start_char, ent.end_char, 0.8) for ent in doc.ents
                if self._LABELS.get(ent.label_) == self.entity]


def build_text_recognizers(zh_ner: bool, en_model: str | None,
                           en_ner: bool = True) -> list[TextRecognizer]:
    """Free-text recognizers: Chinese (jieba-confirmed), English (name lists, address
    grammar) and, when configured, an English spaCy pipeline on top."""
    recognizers: list[TextRecognizer] = []
    if zh_ner:
        from detectors.recognizers.zh_address_recognizer import ZhAddressRecognizer
        from detectors.recognizers.zh_person_recognizer import ZhPersonRecognizer

        recognizers += [_Gated(ZhPersonRecognizer(), _CJK), _Gated(ZhAddressRecognizer(), _CJK)]
    if en_ner:
        from detectors.recognizers.en_address_recognizer import EnAddressRecognizer
        from detectors.recognizers.en_person_recognizer import EnPersonRecognizer

        recognizers += [_Gated(EnPersonRecognizer(), _LATIN),
                        _Gated(EnAddressRecognizer(), _LATIN)]
    if en_model:
        recognizers += [SpacyEntityRecognizer(en_model, "PERSON"),
                        SpacyEntityRecognizer(en_model, "LOCATION")]
    return recognizers


def _load_class(path: str, spec: RecognizerSpec) -> EntityRecognizer:
    module_name, _, class_name = path.partition(":")
    if not class_name:
        raise ValueError(f"recognizer {spec.name}: class must be 'module:Class'")
    cls = getattr(importlib.import_module(module_name), class_name)
    instance = cls(**spec.options)
    if not isinstance(instance, EntityRecognizer):
        raise ValueError(f"recognizer {spec.name}: {path} is not a Presidio EntityRecognizer")
    return instance


def build_user_recognizers(specs: Sequence[RecognizerSpec]) -> list[EntityRecognizer]:
    out: list[EntityRecognizer] = []
    for spec in specs:
        if spec.class_path:
            out.append(_load_class(spec.class_path, spec))
            continue
        options: dict[str, Any] = {
            "patterns": [Pattern(f"{spec.name}_{i}", rx, spec.score)
                         for i, rx in enumerate(spec.patterns)] or None,
            "deny_list": list(spec.deny_list) or None,
            "context": list(spec.context) or None,
        }
        out.append(PatternRecognizer(supported_entity=spec.entity, name=spec.name,
                                     supported_language="any", **options))
    return out
