"""Presidio ``RecognizerResult`` objects from a fast-path ``find`` result."""

from __future__ import annotations

from collections.abc import Iterable

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult

__all__ = ["as_results"]


def as_results(recognizer: EntityRecognizer, spans: Iterable[tuple[int, int, float]],
               explanation: str) -> list[RecognizerResult]:
    """Wrap ``(start, end, score)`` spans the way Presidio's own recognizers report hits."""
    entity = recognizer.supported_entities[0]
    name: str = str(getattr(recognizer, "name", type(recognizer).__name__))
    meta = {
        RecognizerResult.RECOGNIZER_NAME_KEY: name,
        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
        RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
    }
    return [
        RecognizerResult(entity, start, end, score,
                         AnalysisExplanation(name, score,
                                             textual_explanation=explanation), dict(meta))
        for start, end, score in spans
    ]
