"""Lexicon: jieba's dictionary in compact form must cut and tag exactly as jieba does."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jieba
import jieba.posseg
import pytest

from detectors.recognizers import zh_lexicon
from detectors.recognizers.zh_lexicon import Lexicon, jieba_dictionary
from gateway.demo.data import generate_customers

DATA = Path(__file__).resolve().parents[3] / "benchmarks" / "data"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    found = Lexicon()
    found.load()
    return found


@pytest.fixture(scope="module")
def reference() -> jieba.posseg.POSTokenizer:
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(tokenizer.get_dict_file())
    tokenizer.initialized = True
    return jieba.posseg.POSTokenizer(tokenizer)


def _texts() -> list[str]:
    texts = [json.loads(line)["text"] for name in ("notes_zh.jsonl", "notes_en.jsonl")
             for line in (DATA / name).read_text("utf-8").splitlines() if line.strip()]
    customers = generate_customers("lexicon", 120, seed=5)
    texts += [c.notes for c in customers] + [c.address for c in customers]
    rng = random.Random(7)
    windows = []
    for text in texts:
        for _ in range(8):
            start = rng.randrange(len(text))
            windows.append(text[start : start + rng.randrange(1, 12)])
    edge = ["", "AT&T公司", "c++程序员", "中华人民共和国", "  \r\n x1.5元", "B超检查", "一一",
            "𠀀字"]
    return texts + windows + edge


def test_cut_is_jieba_posseg_without_hmm(lexicon: Lexicon,
                                         reference: jieba.posseg.POSTokenizer) -> None:
    texts = _texts()
    assert len(texts) > 2000
    for text in texts:
        expected = [(pair.word, pair.flag) for pair in reference.lcut(text, HMM=False)]
        assert lexicon.cut(text) == expected, text


def test_frequencies_and_tags_are_jieba_s(lexicon: Lexicon,
                                          reference: jieba.posseg.POSTokenizer) -> None:
    words = list(reference.tokenizer.FREQ)[::23]
    for word in [*words, "不存在的词语", "张", "", "x"]:
        assert lexicon.freq(word) == reference.tokenizer.FREQ.get(word, 0), word
        assert lexicon.tag(word, "?") == reference.word_tag_tab.get(word, "?"), word


def test_a_small_dictionary_file_keeps_the_last_entry_of_a_word(tmp_path: Path) -> None:
    path = tmp_path / "dict.txt"
    path.write_text("张三 5 nr\n张三丰 3 nr\n李 9 n\n张三 7 n\n", encoding="utf-8")
    small = Lexicon(path)
    assert not small.loaded
    assert (small.freq("张三"), small.tag("张三", "?")) == (7, "n")
    assert small.loaded
    assert small.freq("张") == 0 and small.tag("张", "?") == "?"
    assert small.cut("张三丰李") == [("张三丰", "nr"), ("李", "n")]


def test_dictionary_is_jieba_s_bundled_file() -> None:
    assert jieba_dictionary().name == "dict.txt"
    assert jieba_dictionary().is_file()


def test_public_names() -> None:
    assert zh_lexicon.__all__ == ["Lexicon", "jieba_dictionary"]
