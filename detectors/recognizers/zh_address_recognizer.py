"""CN_ADDRESS: mainland postal addresses in free text, by regex over their components.

Components, in order and each optional: province (or municipality), city, district or
county, town or sub-district, road, house number, estate or building complex, building,
unit, floor, room. A hit needs at least one place-name component (province to estate)
and one street-level component (town to room), and either a numbered component (number,
building, unit, floor, room) or three components in all; its score grows with the
number of components. The full span is reported, from the province to the room.

Place-name characters exclude function words (``的``, ``寄``, ``到``, ``址``, ``于``...), and
a hit starts after a character that is not a place-name character (so after lead-ins such
as ``地址为`` or ``寄到``) or, for text glued to a city or district (``反映南京市...``), two
or three characters before its suffix. A cheap pass for street-level suffixes picks the
windows the full pattern is run on.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from presidio_analyzer import EntityRecognizer, RecognizerResult

from detectors.recognizers._results import as_results

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

__all__ = ["ZhAddressRecognizer"]

_PLACE = ("prov", "city", "dist", "town", "road", "estate")
_STREET = ("town", "road", "num", "estate", "bldg", "unit", "floor", "room")
_NUMBERED = ("num", "bldg", "unit", "floor", "room")
_LOOK_BACK = 32
_LOOK_AHEAD = 30
_SHORTEST = 4
_STREET_END = r"(?<=[道镇乡街路巷弄同村段号院园苑厦场心城寓舍栋幢座楼元层室房\d])"
_SUFFIX_AHEAD = (
    r"[^\s，。；：、！？（）()]{0,18}?[省市州盟区县旗镇乡道同路街巷弄村园苑院厦城心场寓舍]"
)


def _place_chars(excluded: str) -> str:
    """A character class of CJK ideographs without ``excluded``."""
    ranges, low = [], 0x4E00
    for point in sorted({ord(c) for c in excluded if "\u4e00" <= c <= "\u9fff"}):
        if point > low:
            ranges.append(f"{chr(low)}-{chr(point - 1)}")
        low = point + 1
    ranges.append(f"{chr(low)}-{chr(0x9FFF)}")
    return "[" + "".join(ranges) + "]"


class ZhAddressRecognizer(EntityRecognizer):
    """Recognize CN_ADDRESS; :meth:`find` is the fast path.

    :param supported_language: language to register for ("zh" by default)
    :param supported_entity: entity name to report
    :param name: recognizer name (the class name by default)
    """

    NOT_PLACE_CHARS: ClassVar[str] = (
        "的了在是为到至于寄送住址往把被给您我你他她它请这那该此就已将从由及与或并且也还要想让叫"
        "找帮对着过"
    )
    PROVINCES: ClassVar[str] = (
        "河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川"
        "|贵州|云南|陕西|甘肃|青海|台湾"
    )
    REGIONS: ClassVar[str] = (
        "北京市|上海市|天津市|重庆市|内蒙古自治区|广西壮族自治区|西藏自治区|宁夏回族自治区"
        "|新疆维吾尔自治区|香港特别行政区|澳门特别行政区"
    )
    COMPONENTS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("prov", r"{regions}|(?:{provinces})(?:省|(?={n}{{1,6}}?[市州]))"),
        ("city", r"{n}{{2,4}}市|{n}{{1,8}}(?:自治州|州|盟|地区)"),
        ("dist", r"{n}{{2,4}}(?:新区|区|市)|{n}{{1,14}}(?:县|旗)"),
        ("town", r"{n}{{1,6}}(?:街道|镇|乡)"),
        (
            "road",
            r"{n}{{1,10}}(?:大街|大道|胡同|路|街|巷|弄|道|村)(?:[东南西北中]段|{d}{{1,3}}[段巷弄])?",
        ),
        ("num", r"{d}{{1,5}}(?:[-－之]\d{{1,4}})?号(?!楼)院?"),
        ("estate", r"{n}{{1,12}}(?:小区|花园|公寓|大厦|广场|新村|宿舍|中心|苑|园|院|城)"),
        ("bldg", r"(?:[A-Za-z]|{d}){{1,4}}(?:栋|幢|座|号楼)"),
        ("unit", r"{d}{{1,3}}单元"),
        ("floor", r"\d{{1,3}}(?:层|楼)"),
        (
            "room",
            r"[A-Za-z]?\d{{1,5}}(?:室|房|号房)|(?<=[元栋幢座层楼])[A-Za-z]?\d{{2,5}}(?![\d号])",
        ),
    )
    HINT: ClassVar[str] = (
        "[路街巷弄村镇乡栋幢座室苑号道同元区园寓厦](?:(?<=[路街巷弄村镇乡栋幢座室苑])"
        "|(?<=[\\d一二三四五六七八九十]号)|(?<=道)(?=\\d)|(?<=胡同|大道|单元|小区|花园|公寓|大厦))"
    )
    name: str

    def __init__(
        self,
        supported_language: str = "zh",
        supported_entity: str = "CN_ADDRESS",
        name: str | None = None,
    ) -> None:
        super().__init__(
            supported_entities=[supported_entity],
            name=name or type(self).__name__,
            supported_language=supported_language,
        )

    def load(self) -> None:
        """Compile the component pattern and the window pre-filter."""
        fill = {
            "n": _place_chars(self.NOT_PLACE_CHARS),
            "d": r"[\d一二三四五六七八九十百零〇]",
            "regions": self.REGIONS,
            "provinces": self.PROVINCES,
        }
        parts = [f"(?>(?P<{k}>{body.format(**fill)}))?[ \u3000]?" for k, body in self.COMPONENTS]
        body = "".join(parts) + _STREET_END
        self._body = re.compile(body)
        start = f"(?<![0-9A-Za-z])(?<!{fill['n']})(?={_SUFFIX_AHEAD})"
        self._pattern = re.compile(start + body)
        self._hint = re.compile(self.HINT)
        self._admin = re.compile("(?<![小社园景校厂])[市区县]")
        self._region = re.compile(f"{self.REGIONS}|(?:{self.PROVINCES})省")

    def find(self, text: str) -> list[tuple[int, int, float]]:
        """Return ``(start, end, score)`` for each address found, in text order."""
        found: list[tuple[int, int, float]] = []
        for low, high in self._windows(text):
            hits: list[tuple[int, int, float]] = []
            for match in self._pattern.finditer(text, low, high):
                score = None if match.end() - match.start() < _SHORTEST else self._score(match)
                if score is not None and (not hits or match.start() >= hits[-1][1]):
                    start = self._region_start(text, match)
                    hits.append((start, match.start() + len(match.group().rstrip()), score))
            found += sorted(hits + self._glued(text, (low, high), hits))
        return found

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Presidio entry point: :meth:`find` as RecognizerResult objects."""
        return as_results(self, self.find(text), "address components")

    def _windows(self, text: str) -> list[tuple[int, int]]:
        """Merged ranges around street-level suffixes, widened back to a word boundary."""
        windows: list[tuple[int, int]] = []
        for hint in self._hint.finditer(text):
            low = max(0, hint.start() - _LOOK_BACK)
            high = min(len(text), hint.end() + _LOOK_AHEAD)
            if windows and low <= windows[-1][1]:
                windows[-1] = (windows[-1][0], high)
                continue
            floor = max(0, low - _LOOK_BACK)
            while low > floor and text[low - 1].isalnum():
                low -= 1
            windows.append((low, high))
        return windows

    def _glued(
        self, text: str, window: tuple[int, int], hits: list[tuple[int, int, float]]
    ) -> list[tuple[int, int, float]]:
        """Addresses glued to the words before them (``反映小区南京市...``), tried from two or
        three characters before a city, district or county suffix."""
        extra: list[tuple[int, int, float]] = []
        taken = {i for start, end, _ in hits for i in range(start, end)}
        for admin in self._admin.finditer(text, *window):
            if admin.start() in taken:
                continue
            for begin in (max(admin.start() - 2, window[0]), max(admin.start() - 3, window[0])):
                match = self._body.match(text, begin, window[1])
                score = None if match is None else self._score(match)
                end = 0 if match is None else begin + len(match.group().rstrip())
                if score is not None and taken.isdisjoint(range(begin, end)):
                    extra.append((begin, end, score))
                    taken.update(range(begin, end))
                    break
        return extra

    def _region_start(self, text: str, match: re.Match[str]) -> int:
        """Skip words glued before a province or municipality name (``总部上海市``)."""
        if match.group("prov") is not None:
            return match.start()
        region = self._region.search(text, match.start() + 1, match.start() + 9)
        if region is None:
            return match.start()
        again = self._body.match(text, region.start(), match.end())
        return region.start() if again is not None and again.end() == match.end() else match.start()

    @staticmethod
    def _score(match: re.Match[str]) -> float | None:
        present = {key for key, value in match.groupdict().items() if value is not None}
        count = len(present)
        if not present.intersection(_PLACE) or not present.intersection(_STREET):
            return None
        if count < 2 or (count < 3 and not present.intersection(_NUMBERED)):
            return None
        return round(min(1.0, 0.35 + 0.1 * count), 2)
