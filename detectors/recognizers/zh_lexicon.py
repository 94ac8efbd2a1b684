"""jieba's bundled dictionary in compact form, with jieba's no-HMM part-of-speech cut.

jieba's own tokenizer holds every word *and every word prefix* in one dict (~500,000
entries) and ``jieba.posseg`` a second word-to-tag dict and its HMM tables: about
160 MB of Python objects per process. The name recognizer only looks up a few words
and segments a few characters around a candidate, so here the same ``dict.txt`` is kept
as one string per first character, one ``"\\n<rest of word> <freq> <tag>"`` line per
word in sorted order, plus the offsets where each second character starts (about
7 MB in all), searched with ``str.find`` over that short range. :meth:`Lexicon.cut` reproduces
``jieba.posseg.POSTokenizer.lcut(text, HMM=False)``: the same word graph, the same
best route by log frequency, the same tags (a test compares both on real text).

The file is read on first use (about 0.5 s), from the installed jieba package, without
importing jieba, writing a cache file or touching the network.
"""

from __future__ import annotations

import importlib.util
import math
import re
import threading
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

__all__ = ["Lexicon", "jieba_dictionary"]

_HAN_BLOCK = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._]+)")
_SKIP = re.compile("(\r\n|\\s)")
_NUM = re.compile("[\\.0-9]+")
_ENG = re.compile("[a-zA-Z0-9]+")
_ENG1 = re.compile("^[a-zA-Z0-9]$")

_Bucket = tuple[str, str, "array[int]"]  # words, second characters, where each starts
_RECENT = 16384  # lines, second characters, where each one starts


def jieba_dictionary() -> Path:
    """jieba's bundled ``dict.txt``, found without importing (initialising) jieba."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the jieba package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "dict.txt"


class Lexicon:
    """Word frequencies and tags, and :meth:`cut`; loads lazily and thread-safely."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] | None = None
        self._log_total = 0.0
        self._recent: dict[str, tuple[int, str | None]] = {}

    @property
    def loaded(self) -> bool:
        return self._buckets is not None

    def load(self) -> None:
        if self._buckets is not None:
            return
        with self._lock:
            if self._buckets is not None:
                return
            with (self._path or jieba_dictionary()).open(encoding="utf-8") as lines:
                buckets, total = _read(lines)
            self._log_total = math.log(total)
            self._buckets = buckets

    def _table(self) -> dict[str, _Bucket]:
        if self._buckets is None:
            self.load()
        assert self._buckets is not None
        return self._buckets

    def _entry(self, word: str) -> tuple[str, int] | None:
        """The bucket text of ``word`` and where its frequency starts, if it is a word."""
        bucket = self._table().get(word[:1]) if word else None
        if bucket is None:
            return None
        lines, lo, hi = _range(bucket, word[1:2])
        at = lines.find("\n" + word[1:] + " ", lo, hi)
        return None if at < 0 else (lines, at + len(word) + 1)

    def _info(self, word: str) -> tuple[int, str | None]:
        """``(freq, tag)`` of a word, ``(0, None)`` otherwise; recent answers are kept."""
        info = self._recent.get(word)
        if info is None:
            entry = self._entry(word)
            if entry is None:
                info = (0, None)
            else:
                lines, at = entry
                space = lines.index(" ", at)
                info = (int(lines[at:space]), lines[space + 1 : lines.index("\n", space)])
            if len(self._recent) >= _RECENT:
                self._recent.clear()
            self._recent[word] = info
        return info

    def freq(self, word: str) -> int:
        """jieba's frequency of ``word``; 0 for anything that is not a dictionary word."""
        return self._info(word)[0]

    def tag(self, word: str, default: str) -> str:
        """jieba's part-of-speech tag of ``word``, or ``default``."""
        tag = self._info(word)[1]
        return default if tag is None else tag

    def cut(self, text: str) -> list[tuple[str, str]]:
        """``(word, tag)`` pairs, as ``jieba.posseg`` cuts ``text`` with ``HMM=False``."""
        return list(self._cut(text))

    def _cut(self, text: str) -> Iterator[tuple[str, str]]:
        for block in _HAN_BLOCK.split(text):
            if _HAN_BLOCK.match(block):
                yield from self._cut_block(block)
                continue
            for part in _SKIP.split(block):
                if _SKIP.match(part):
                    yield part, "x"
                    continue
                for char in part:
                    yield char, ("m" if _NUM.match(char) else
                                 "eng" if _ENG.match(part) else "x")

    def _cut_block(self, block: str) -> Iterator[tuple[str, str]]:
        route = self._route(block)
        buffer, start = "", 0
        while start < len(block):
            end = route[start] + 1
            word = block[start:end]
            if _ENG1.match(word):
                buffer += word
            else:
                if buffer:
                    yield buffer, "eng"
                    buffer = ""
                yield word, self.tag(word, "x")
            start = end
        if buffer:
            yield buffer, "eng"

    def _route(self, block: str) -> list[int]:
        """For each index, the last index of the word the best route takes from there.

        The words tried at an index are jieba's DAG (every dictionary word starting
        there, else the lone character), scored by log frequency exactly as jieba does.
        """
        table, log_total, size = self._table(), self._log_total, len(block)
        score = [0.0] * (size + 1)
        best = [0] * size
        for start in range(size - 1, -1, -1):
            bucket = table.get(block[start])
            top, end = (-math.inf, -1), start
            while bucket is not None and end < size:
                rest = "\n" + block[start + 1 : end + 1]
                lines, lo, hi = _range(bucket, rest[1:2])
                at = lines.find(rest + " ", lo, hi)
                if at >= 0:
                    at += len(rest) + 1
                    freq = int(lines[at : lines.index(" ", at)])
                    top = max(top, (math.log(freq or 1) - log_total + score[end + 1], end))
                elif lines.find(rest, lo, hi) < 0:
                    break
                end += 1
            if top[1] < 0:
                top = (0.0 - log_total + score[start + 1], start)
            score[start], best[start] = top
        return best


def _range(bucket: _Bucket, second: str) -> tuple[str, int, int]:
    """The part of a bucket whose words continue with ``second`` ("" = the lone char)."""
    lines, seconds, starts = bucket
    if not second:
        return lines, 0, starts[0] + 1
    at = seconds.find(second)
    if at < 0:
        return lines, 0, 0
    return lines, starts[at], starts[at + 1]


def _read(lines: TextIO) -> tuple[dict[str, _Bucket], int]:
    """Group ``dict.txt`` by first character (its words mostly come grouped already)."""
    buckets: dict[str, _Bucket] = {}
    total = 0
    run: dict[str, str] = {}
    head = ""
    for line in lines:
        word, freq, tag = line.split()
        total += int(freq)
        if word[0] != head:
            _store(buckets, head, run)
            head, run = word[0], {}
        run[word[1:]] = f"{int(freq)} {tag}"
    _store(buckets, head, run)
    return buckets, total


def _store(buckets: dict[str, _Bucket], head: str, run: dict[str, str]) -> None:
    """Sort one first character's words; later lines win, as in jieba's dicts."""
    if not run:
        return
    if head in buckets:
        lines = buckets[head][0]
        older = (line.split(" ", 1) for line in lines.strip("\n").split("\n"))
        run = {**{rest: value for rest, value in older}, **run}
    parts, seconds, starts, offset = ["\n"], list[str](), array("I"), 0
    for rest in sorted(run):
        if rest[:1] and (not seconds or seconds[-1] != rest[0]):
            seconds.append(rest[0])
            starts.append(offset)
        line = f"{rest} {run[rest]}\n"
        parts.append(line)
        offset += len(line)
    starts.append(offset)
    buckets[head] = ("".join(parts), "".join(seconds), starts)
