"""Which township is this? Township and street names, their aliases and their villages/communities.

A place is found in a `place` field (an address, a village, a short name) or, failing that, in
the ticket text. The longest name wins where names overlap ("高家镇" before "高家"). Two-character
aliases ("杜泽", "横路") count only in a `place` field: in running text they are too often part of
other words. A place naming two townships is never guessed; a place outside the county is
refused with the county's nearest names.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from engine.intake.text import normalise
from engine.policy.model import Organization, PlaceKind

# Generic words ending in 县/区/市 that are no county or city ("小区", "夜市").
_NOT_DIVISIONS = frozenset(
    "小区 社区 城区 市区 园区 景区 开发区 主城区 老城区 新区 街区 辖区 山区 库区 片区 校区 厂区 营区 "
    "城市 超市 菜市 夜市 集市 早市 门市 县道 县城".split()
)
_DIVISION = re.compile(r"[\u4e00-\u9fff]{1,6}?(?:自治县|县|区|市)")
SHORT_ALIAS = 2  # aliases this short match in running text only before a place word ("安仁那边")
_PLACE_WORDS = "那边|这边|那里|这里|一带|附近|镇上|乡里|街上|集镇|地区|境内"


@dataclass(frozen=True)
class PlaceName:
    name: str  # as written in the policy
    township: str  # organization id
    via: str  # name | alias | village | community


@dataclass(frozen=True)
class PlaceMatch:
    township: str
    matched: str
    via: str


@dataclass(frozen=True)
class PlaceLookup:
    """What a text says about the township: the matches, and any division outside the county."""

    matches: tuple[PlaceMatch, ...]
    outside: str | None = None

    @property
    def townships(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.township for m in self.matches))


class Gazetteer:
    """Every name a caller may use for a township in force, longest first."""

    def __init__(self, townships: Iterable[Organization], county_names: Iterable[str] = ()) -> None:
        self.names: dict[str, list[PlaceName]] = defaultdict(list)
        self.display: dict[str, str] = {}
        for org in townships:
            self.display[org.id] = org.name
            self._add(PlaceName(org.name, org.id, "name"))
            for alias in org.aliases:
                self._add(PlaceName(alias, org.id, "alias"))
            for place in org.places:
                self._add(PlaceName(place.name, org.id, (place.kind or PlaceKind.village).value))
        self.county_names = frozenset(normalise(n) for n in county_names)
        ordered = sorted(self.names, key=lambda n: (-len(n), n))
        self._all = re.compile("|".join(re.escape(n) for n in ordered)) if ordered else None
        short = {n for n in ordered if len(n) <= SHORT_ALIAS and all(p.via == "alias" for p in self.names[n])}
        in_text = [re.escape(n) + (f"(?={_PLACE_WORDS})" if n in short else "") for n in ordered]
        self._in_text = re.compile("|".join(in_text)) if in_text else None

    def _add(self, entry: PlaceName) -> None:
        key = normalise(entry.name)
        if all(e.township != entry.township for e in self.names[key]):
            self.names[key].append(entry)

    @property
    def words(self) -> frozenset[str]:
        """Every place name, normalised: the matcher ignores them."""
        return frozenset(self.names)

    def lookup(self, text: str, *, field: bool) -> PlaceLookup:
        """The townships a place field (`field=True`) or a ticket text names."""
        normalised = normalise(text)
        pattern = self._all if field else self._in_text
        matches: list[PlaceMatch] = []
        if pattern is not None:
            for hit in pattern.finditer(normalised):
                matches.extend(PlaceMatch(e.township, e.name, e.via) for e in self.names[hit.group(0)])
        outside = None
        if not matches:
            for hit in _DIVISION.finditer(normalised):
                word = hit.group(0)
                if word not in _NOT_DIVISIONS and word not in self.county_names and not any(
                    word.endswith(n) for n in _NOT_DIVISIONS
                ):
                    outside = word
                    break
        return PlaceLookup(tuple(matches), outside)

    def nearest(self, text: str, limit: int = 3) -> list[str]:
        """Township names closest to the text (by its names, aliases and villages)."""
        normalised = normalise(text)
        close = difflib.get_close_matches(normalised, list(self.names), n=10, cutoff=0.3)
        if not close:
            close = [n for n in self.names if set(n) & set(normalised)]
        seen: dict[str, None] = {}
        for name in close:
            for entry in self.names[name]:
                seen.setdefault(self.display[entry.township])
        return list(seen)[:limit]
