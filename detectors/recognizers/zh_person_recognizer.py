"""PERSON in Chinese free text: a known surname plus a one- or two-character given name.

Name slots are read by surname lookup beside context words (``客户``, ``先生``, ``来电``...),
at sentence starts and after a found name in a list (``张伟、王芳``); jieba part-of-speech
tagging runs only on a few characters around ambiguous or weak slots. Words that begin with
a surname (``金额``, ``于是``) are rejected by jieba's dictionary and :attr:`NOT_NAMES`.
jieba's bundled dictionary loads on first use, in the compact form of
:class:`~detectors.recognizers.zh_lexicon.Lexicon` (~7 MB instead of jieba's ~160 MB).
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors.recognizers._results import as_results
from detectors.recognizers.zh_lexicon import Lexicon

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

__all__ = ["ZhPersonRecognizer"]

_RARE, _COMMON, _NOUN = 100, 200, 1000
_FUNCTION_TAGS, _GRAMMAR_TAGS = frozenset("cpdurmqfyevtwx"), frozenset("cpdur")
_ORG_AFTER = re.compile(
    r"(?:(?![的了和与及称说在已是为将对把被给其])[\u4e00-\u9fff]){0,6}?(?:公司|集团|银行|商行|酒店|医院|学校|大学|学院"
    r"|事务所|工作室|门店|超市)|[\u4e00-\u9fff]?(?:科技|网络|信息|技术|传媒|实业|贸易|物流|电子|软件|分行|支行|营业部|网点)"
    r"|[路街巷弄村镇]|大街|大道|胡同|小区|大厦|花园"
)
_Span = tuple[int, int]
_SENTENCE, _MARKS = "<sentence start>", re.compile(r"[。！？；\n:：（(，,]")


class _Scan(NamedTuple):
    text: str
    covered: set[int]
    found: dict[_Span, tuple[float, int]]
    unconfirmed: dict[_Span, int]
    listed: list[tuple[int, str]]


class ZhPersonRecognizer(EntityRecognizer):
    """Recognize PERSON names in Chinese text; :meth:`find` is the fast path.

    ``supported_language`` ("zh" by default), ``supported_entity`` and ``name`` are as in the
    other recognizers; ``surnames`` replaces the bundled ``detectors/data/cn_surnames.txt``.
    """

    LABELS: ClassVar[frozenset[str]] = frozenset(
        "姓名 名字 联系人 收件人 收货人 寄件人 签收人 申请人 经办人 来电人 投诉人 持卡人 户主 户名 "
        "复核人 审核人 负责人 代理人 监护人 收款人 付款人 领取人".split()
    )
    PRE_CONTEXT: ClassVar[frozenset[str]] = LABELS | frozenset(
        "客户 用户 会员 顾客 业主 患者 借款人 担保人 投保人 被保险人 受益人 法定代表人 业务员 "
        "尊敬的 亲爱的 致电 回访 联系 通知 提醒 转告 经理 专员 客服 同事 家属 配偶 母亲 父亲 "
        "女儿 儿子 丈夫 妻子 机主 主借人 自称".split()
    )
    POST_CONTEXT: ClassVar[frozenset[str]] = frozenset(
        "先生 女士 小姐 同志 老师 经理 主任 来电 致电 来访 到店 本人 申请 要求 签收 签字 签名 "
        "表示 反映 反馈 投诉 咨询 同意 确认 办理 您好 你好 的手机 的电话 的账户 的地址 "
        "的身份证 的银行卡".split()
    )
    STRONG_CONTEXT: ClassVar[frozenset[str]] = LABELS | frozenset(
        "先生 女士 小姐 尊敬的 亲爱的 您好".split()
    )
    NOT_NAMES: ClassVar[frozenset[str]] = frozenset(
        "明白 文明 阳光 荣誉 言语 明星 权威 师傅 顾问 顾客 公正 安静 谢谢 白领 康复 吉祥 周转 "
        "宁可 陈述 荣获 关怀 许可 祝贺 晋升 祝福 查明 张贴 李子 向东 周密 华为 温馨 明智 陈旧 "
        "严正 张开 张嘴 张口 高薪 弘扬 杜绝 容纳 卓越 通达 安抚 养老 宁静 陈列 陈设 齐全 齐声 "
        "冷笑 师生 向阳 双喜 金卡 银卡 黄牛 刘海".split()
    )
    WEAK_SURNAMES: ClassVar[frozenset[str]] = frozenset("和于於时从向都那有能经后第年")
    STOP_CHARS: ClassVar[str] = (
        "的了在已说称和与及等把被让给也都又还不没是为将对就却并或而您你我他她它这那吗呢吧啊"
        "到从于向请叫找帮由跟再要去来买打问拿用看听"
    )
    COORDINATORS: ClassVar[tuple[str, ...]] = tuple("、和与及跟")
    name: str

    def __init__(
        self,
        supported_language: str = "zh",
        supported_entity: str = "PERSON",
        name: str | None = None,
        surnames: Iterable[str] | None = None,
    ) -> None:
        self._surname_source = None if surnames is None else list(surnames)
        self.lexicon = Lexicon()
        super().__init__(
            supported_entities=[supported_entity],
            name=name or type(self).__name__,
            supported_language=supported_language,
            context=sorted(self.PRE_CONTEXT | self.POST_CONTEXT),
        )

    def load(self) -> None:
        """Read the surname list and compile the context-word regex."""
        bundled = importlib.resources.files("detectors.data").joinpath("cn_surnames.txt")
        words = self._surname_source or bundled.read_text(encoding="utf-8").splitlines()
        clean = [w.strip() for w in words if w.strip() and not w.startswith("#")]
        self.single_surnames = frozenset(w for w in clean if len(w) == 1)
        self.compound_surnames = frozenset(w for w in clean if len(w) == 2)
        anchors = sorted(self.PRE_CONTEXT | self.POST_CONTEXT, key=len, reverse=True)
        self._anchor_re = re.compile("|".join(map(re.escape, anchors)))

    def warm_up(self) -> None:
        """Load jieba's dictionary now rather than on first use (under 1 s; no cache file,
        no network)."""
        self.lexicon.load()

    def find(self, text: str) -> list[tuple[int, int, float]]:
        """Return ``(start, end, score)`` for each name found, in text order."""
        self.warm_up()
        anchors = [(m.start(), m.end()) for m in self._anchor_re.finditer(text)]
        marks = [(-1, _SENTENCE), *((m.start(), _SENTENCE) for m in _MARKS.finditer(text))]
        scan = _Scan(text, {i for s, e in anchors for i in range(s, e)}, {}, {}, marks[::-1])
        for start, end in anchors:
            word = text[start:end]
            if word in self.PRE_CONTEXT:
                self._keep(scan, self._name_after(scan, end, word), word, 1)
            if word in self.POST_CONTEXT:
                self._keep(scan, self._name_before(scan, start), word, 2)
        while scan.listed:
            mark, word = scan.listed.pop()
            self._keep(scan, self._name_after(scan, mark + 1, ""), word, 0)
        return _resolve(scan.found)

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Presidio entry point: :meth:`find` as RecognizerResult objects."""
        return as_results(self, self.find(text), "surname + context")

    def _segment(self, scan: _Scan, start: int, end: int) -> list[tuple[int, int, str]]:
        """jieba tokens of ``text[start:end]`` as absolute ``(start, end, tag)``."""
        tokens, offset = [], max(0, start)
        for word, tag in self.lexicon.cut(scan.text[offset:end]):
            tokens.append((offset, offset + len(word), tag))
            offset += len(word)
        return tokens

    def _surname_at(self, text: str, i: int) -> int:
        compound = text[i : i + 2] in self.compound_surnames
        return 2 if compound else int(text[i : i + 1] in self.single_surnames)

    def _single_at(self, scan: _Scan, i: int) -> bool:
        return i >= 0 and i not in scan.covered and scan.text[i] in self.single_surnames

    def _given(self, scan: _Scan, i: int) -> bool:
        char = scan.text[i] if 0 <= i < len(scan.text) and i not in scan.covered else ""
        return "\u4e00" <= char <= "\u9fff" and char not in self.STOP_CHARS

    def _name_after(self, scan: _Scan, pos: int, word: str) -> _Span | None:
        """The name that starts right after a context word ending at ``pos``."""
        text = scan.text
        while text[pos : pos + 1] in (":", "：", " ", "\u3000"):
            pos += 1
        pos += word in self.STRONG_CONTEXT and text[pos : pos + 1] in ("为", "是")
        first = pos + (self._surname_at(text, pos) if pos not in scan.covered else 0)
        if first == pos or not self._given(scan, first):
            return None
        if not self._given(scan, first + 1):
            return pos, first + 1
        if not self._given(scan, first + 2):
            after = text[first + 2 : first + 3]
            if not after or first + 2 in scan.covered or after not in self.STOP_CHARS:
                return pos, first + 2
        return self._split(scan, (pos, first + 4), (pos, first + 1), (pos, first + 2))

    def _name_before(self, scan: _Scan, end: int) -> _Span | None:
        """The name that ends right before a context word starting at ``end``."""
        text, given = scan.text, self._given
        for start in (end - 4, end - 3):
            compound = start >= 0 and text[start : start + 2] in self.compound_surnames
            if compound and all(given(scan, i) for i in range(start + 2, end)):
                return start, end
        two = self._single_at(scan, end - 2) and given(scan, end - 1)
        three = self._single_at(scan, end - 3) and given(scan, end - 2) and given(scan, end - 1)
        if two and three:
            if text[end - 3] in self.WEAK_SURNAMES:
                return end - 2, end
            if given(scan, end - 4):
                return self._split(scan, (end - 6, end), (end - 2, end), (end - 3, end))
        if two or three:
            return (end - 3 if three else end - 2), end
        return None

    def _split(self, scan: _Scan, window: _Span, short: _Span, long: _Span) -> _Span | None:
        """Pick the shorter or longer reading of a name slot from jieba's word boundaries."""
        tokens = self._segment(scan, *window)
        bounds = {s for s, _, _ in tokens}
        short_cut, long_cut = (short[1], long[1]) if short[0] == long[0] else (short[0], long[0])
        if (short_cut in bounds) != (long_cut in bounds):
            return short if short_cut in bounds else long
        if short_cut not in bounds:
            return None
        tag = next(tag for s, _, tag in tokens if s == min(short_cut, long_cut))
        return short if tag[0] in _GRAMMAR_TAGS and not tag.endswith("g") else long

    def _plausible(self, scan: _Scan, span: _Span, word: str) -> bool:
        """Not a common word, not the start of an organisation or a street name."""
        text, (start, end) = scan.text, span
        name, label = text[start:end], word in self.STRONG_CONTEXT
        given = name[self._surname_at(text, start) :]
        field = label and start > 0 and text[start - 1] in ":： \u3000"
        field = field and not "\u4e00" <= text[end : end + 1] <= "\u9fff"
        if not field and (name in self.NOT_NAMES or self._ordinary_word(name)):
            return False
        if len(name) == 3 and len(given) == 2 and not label and self._head_is_word(scan, start):
            return False
        if word == _SENTENCE and self.lexicon.freq(name) >= _RARE:
            return False
        tag, freq = self.lexicon.tag(given, "n"), self.lexicon.freq(given)
        noun = tag in ("n", "vn") and freq >= _NOUN
        if len(given) == 2 and (noun or (tag[0] in _FUNCTION_TAGS and freq >= _COMMON)):
            return False
        return _ORG_AFTER.match(text, end) is None

    def _head_is_word(self, scan: _Scan, start: int) -> bool:
        """``高兴地``, ``林业局``: surname + first given character read as one common word."""
        head = scan.text[start : start + 2]
        if head in self.NOT_NAMES or not self._ordinary_word(head, _RARE):
            return head in self.NOT_NAMES
        bounds = {s for s, _, _ in self._segment(scan, start - 2, start + 5)}
        return start + 2 in bounds and start + 1 not in bounds

    def _ordinary_word(self, word: str, least: int = 0) -> bool:
        """jieba knows ``word`` (``least``+ times) as neither a name nor a rare place."""
        tag, freq = self.lexicon.tag(word, "nr"), self.lexicon.freq(word)
        rare_proper = tag in ("ns", "nz") and freq < _RARE
        return not (tag.startswith("nr") or rare_proper) and freq >= least

    def _confirmed(self, scan: _Scan, start: int, end: int) -> bool:
        """jieba reads the span as separate word(s), not starting with a function word."""
        tokens = self._segment(scan, start - 2, end + 2)
        first = next((token for token in tokens if token[0] == start), None)
        if first is None or end not in {e for _, e, _ in tokens}:
            return False
        if first[1] - first[0] == 1:
            return scan.text[start] not in self.WEAK_SURNAMES
        return first[2][0] not in "cpdur"

    def _keep(self, scan: _Scan, span: _Span | None, word: str, side: int) -> None:
        """Record a plausible span; weak ones need jieba's agreement or context on both sides."""
        if span is None or not self._plausible(scan, span, word):
            return
        text, (start, end) = scan.text, span
        surname = text[start : start + self._surname_at(text, start)]
        weak = side == 0 or surname in self.WEAK_SURNAMES
        weak = weak or (len(surname) == 2 and self._ordinary_word(surname))
        if weak and not self._confirmed(scan, start, end):
            scan.unconfirmed[span] = scan.unconfirmed.get(span, 0) | side
            if scan.unconfirmed[span] != 3:
                return
        given = text[start + len(surname) : end]
        tagged = self.lexicon.tag(text[start:end], "") + self.lexicon.tag(given, "")
        score = 0.55 + 0.15 * (word in self.STRONG_CONTEXT) + 0.1 * ("nr" in tagged) - 0.15 * weak
        if span not in scan.found and text[end : end + 1] in self.COORDINATORS:
            scan.listed.append((end, ""))
        old_score, old_sides = scan.found.get(span, (0.0, 0))
        scan.found[span] = (max(score, old_score), old_sides | side)


def _resolve(found: dict[_Span, tuple[float, int]]) -> list[tuple[int, int, float]]:
    """Final scores (+0.2 with context on both sides); the better of overlapping spans wins."""
    kept: list[tuple[int, int, float]] = []
    for (start, end), (score, sides) in sorted(found.items()):
        final = round(min(score + 0.2 * (sides == 3), 1.0), 2)
        if kept and start < kept[-1][1]:
            if (final, end - start) <= (kept[-1][2], kept[-1][1] - kept[-1][0]):
                continue
            kept.pop()
        kept.append((start, end, final))
    return kept
