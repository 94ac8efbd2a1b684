"""The shared machinery of the identifier recognizers: one entity of the pattern table.

Every ``cn_<entity>_recognizer.py`` subclasses :class:`TableRecognizer` and names its
entity; patterns, validators and context words come from :mod:`detectors.patterns`.
(This is the one place with two levels of concrete inheritance: Presidio requires
recognizers to subclass ``PatternRecognizer``, and seven copies of the same glue would
be worse.)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from detectors.patterns import CONTEXT_WORDS, context_ok, patterns_for, verdict

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

__all__ = ["TableRecognizer"]


class TableRecognizer(PatternRecognizer):
    """Recognize ``ENTITY`` from its table rows; drop hits that fail validation or lack
    required context (Presidio's context boosting cannot enforce that for Chinese).

    :param patterns: patterns to use instead of :attr:`PATTERNS`
    :param context: context words to use instead of :attr:`CONTEXT`
    :param supported_language: language to register for ("zh" by default)
    :param supported_entity: entity name to report
    :param name: recognizer name (the class name by default)
    """

    ENTITY: ClassVar[str] = ""
    PATTERNS: ClassVar[list[Pattern]] = []
    CONTEXT: ClassVar[list[str]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.PATTERNS = [Pattern(p.name, p.regex, p.score) for p in patterns_for(cls.ENTITY)]
        cls.CONTEXT = list(CONTEXT_WORDS[cls.ENTITY])

    def __init__(
        self,
        patterns: list[Pattern] | None = None,
        context: list[str] | None = None,
        supported_language: str = "zh",
        supported_entity: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            supported_entity=supported_entity or self.ENTITY,
            name=name or type(self).__name__,
            supported_language=supported_language,
            patterns=list(patterns or self.PATTERNS),
            context=list(context or self.CONTEXT),
            global_regex_flags=re.DOTALL | re.MULTILINE,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """False drops the hit, True scores it 1.0, None keeps the pattern score."""
        return verdict(self.ENTITY, pattern_text)

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Presidio's pattern analysis, less hits of context-needing rows without context."""
        found = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [
            hit for hit in found
            if context_ok(hit.analysis_explanation.pattern_name, text, hit.start, hit.end,
                          self.context)
        ]
