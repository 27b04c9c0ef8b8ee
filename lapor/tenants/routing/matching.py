"""Does a routing rule fit a complaint? Pure Python, no database, no I/O.

Kept apart from the storage so that submission (propose), verification (apply when
``auto_apply``) and ``routingPreview`` all decide with the very same code, and so the rules of
matching can be tested exhaustively without PostgreSQL.

Semantics (DESIGN.md section 4):

* A rule has up to five condition lists: kinds, channels, category ids, keywords, region-code
  prefixes. Every **non-empty** list must be satisfied (AND across lists); within one list any
  value is enough (OR). A rule whose lists are all empty matches every complaint, which is how
  a tenant writes a catch-all rule at the end of its list.
* ``enabled`` is not a condition: :func:`matches` ignores it (a preview may evaluate a disabled
  rule on purpose); :func:`first_match` skips disabled rules.
* Keywords match whole words, in the title or the body, ignoring case and accents: both sides are
  folded (NFKD, combining marks dropped, casefolded) and cut into words at anything that is not a
  letter or digit. So punctuation, hyphens and apostrophes are word boundaries: ``rusak`` matches
  "Jalan rusak!" and "jalan-rusak", ``jalan`` does not match "jalanan", ``kesehatan`` does not
  match "kesehatannya". Indonesian suffixes and reduplication are deliberately *not* stemmed:
  a rule that wants "jalanan" too lists it, which keeps matching predictable for admins.
  A keyword of several words is a phrase: its words must follow each other, within the title or
  within the body (never straddling the two), separated by any whitespace or in-word punctuation
  (hyphen, apostrophe, slash). A clause or sentence mark between them (``. , ; : ! ?``, brackets,
  quotes) breaks the phrase, so "jalan rusak" matches "Jalan  rusak parah" and "jalan-rusak" but
  not "... ke jalan. Rusak juga HP saya". A keyword written with such a mark ("1.000") needs the
  same kind of mark in the text ("Rp 1.000", "Rp 1,000", not "Rp 1 000").
* Region prefixes compare whole dot-separated segments of Kemendagri codes: ``53`` matches
  ``53``, ``53.71`` and ``53.71.01.1001``; ``53.71`` matches ``53.71.01`` but not ``53.7`` or
  ``53.710``; ``53.7`` (not a valid stored prefix anyway) does not match ``53.71``. A complaint
  without a region code fails every rule that has region prefixes; likewise a complaint without
  a category fails every rule that lists categories.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lapor.tenants.enums import Channel, ComplaintKind, Priority, RoutingAction

# A word: letters and digits of any script (underscore counts as punctuation here, unlike in
# ``\w``). A break: a clause or sentence mark, which a phrase may not span. Everything else
# (whitespace, hyphens, apostrophes, slashes, symbols) only separates words.
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r"([^\W_]+)|[.,;:!?()\[\]{}\"“”«»]")
_BREAK = "|"


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text``: "RUSAK di Kécamatan" -> "rusak di kecamatan".

    Marks are stripped both before and after casefolding: casefolding may add marks ("İ" folds
    to "i" plus a combining dot) and compatibility decomposition may yield capitals ("ℌ" -> "H").
    ASCII text, nearly all complaints, takes the cheap path.
    """
    if text.isascii():
        return text.lower()
    return _strip_marks(_strip_marks(text).casefold())


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order; punctuation and whitespace separate them."""
    return _WORD.findall(fold(text))


def _tokens(text: str) -> list[str]:
    """Folded words with ``|`` where a clause mark separated two of them (never first or last)."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(fold(text)):
        word = match.group(1)
        if word:
            tokens.append(word)
        elif tokens and tokens[-1] != _BREAK:
            tokens.append(_BREAK)
    if tokens and tokens[-1] == _BREAK:
        tokens.pop()
    return tokens


def _haystack(text: str) -> str:
    # Tokens joined and framed by single spaces: a keyword is then found as " w1 w2 " exactly at
    # word boundaries, with one substring search instead of a scan over token windows.
    return " " + " ".join(_tokens(text)) + " "


@functools.lru_cache(maxsize=4096)
def keyword_form(keyword: str) -> str | None:
    """The searchable form of a keyword, or None when it has no word in it (it then never matches).

    Two keywords with the same form are the same keyword ("Jalan Rusak", "jalan  rusak").
    Cached per process: the same few hundred keywords are evaluated on every submission.
    """
    tokens = _tokens(keyword)
    return " " + " ".join(tokens) + " " if tokens else None


def region_segments(code: str) -> tuple[str, ...]:
    """``"53.71.01"`` -> ``("53", "71", "01")``."""
    return tuple(code.strip().split("."))


def region_within(region_code: str | None, prefix: str) -> bool:
    """Whether ``region_code`` lies in the area ``prefix`` names (whole segments, see module doc)."""
    if region_code is None or not region_code.strip():
        return False
    wanted = region_segments(prefix)
    return region_segments(region_code)[: len(wanted)] == wanted


@dataclass(frozen=True)
class ComplaintFacts:
    """What routing may look at in a complaint (submitted or a preview sample).

    ``kind`` and ``channel`` may be the enum members or their string values.
    """

    kind: ComplaintKind | str
    channel: Channel | str
    category_id: int | None
    title: str
    body: str
    region_code: str | None = None

    @functools.cached_property
    def _haystacks(self) -> tuple[str, str]:
        # Folded once per complaint, however many keyword rules are tried on it.
        return _haystack(self.title), _haystack(self.body)

    def contains_keyword(self, keyword: str) -> bool:
        """Whether ``keyword`` (a word or a phrase) occurs as whole words in the title or the body."""
        needle = keyword_form(keyword)
        if needle is None:
            return False
        title, body = self._haystacks
        return needle in title or needle in body


@dataclass(frozen=True)
class RuleSpec:
    """One routing rule as routing needs it: immutable, comparable, free of database types."""

    id: int | None
    position: int
    name: str
    enabled: bool = True
    kinds: tuple[ComplaintKind, ...] = ()
    channels: tuple[Channel, ...] = ()
    category_ids: tuple[int, ...] = ()
    keywords: tuple[str, ...] = ()
    region_prefixes: tuple[str, ...] = ()
    action: RoutingAction = RoutingAction.ASSIGN_UNIT
    unit_id: int | None = None
    priority: Priority | None = None
    target_tenant: str | None = None
    auto_apply: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> RuleSpec:
        """Build from a ``routing_rule`` row (a SQLAlchemy ``Row`` or any mapping of its columns)."""
        data: Mapping[str, Any] = row._mapping if hasattr(row, "_mapping") else row
        priority = data["priority"]
        return cls(
            id=data["id"],
            position=data["position"],
            name=data["name"],
            enabled=data["enabled"],
            kinds=tuple(ComplaintKind(value) for value in data["match_kinds"] or ()),
            channels=tuple(Channel(value) for value in data["match_channels"] or ()),
            category_ids=tuple(int(value) for value in data["match_category_ids"] or ()),
            keywords=tuple(data["match_keywords"] or ()),
            region_prefixes=tuple(data["match_region_prefixes"] or ()),
            action=RoutingAction(data["action"]),
            unit_id=data["unit_id"],
            priority=Priority(priority) if priority is not None else None,
            target_tenant=data["target_tenant"],
            auto_apply=data["auto_apply"],
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
        )

    @property
    def has_conditions(self) -> bool:
        return bool(self.kinds or self.channels or self.category_ids or self.keywords or self.region_prefixes)

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values (for the audit log's before/after); timestamps left out on purpose:
        the audit row has its own time, and they would only add noise to a diff."""
        return {
            "id": self.id,
            "position": self.position,
            "name": self.name,
            "enabled": self.enabled,
            "kinds": [str(value) for value in self.kinds],
            "channels": [str(value) for value in self.channels],
            "category_ids": list(self.category_ids),
            "keywords": list(self.keywords),
            "region_prefixes": list(self.region_prefixes),
            "action": str(self.action),
            "unit_id": self.unit_id,
            "priority": str(self.priority) if self.priority is not None else None,
            "target_tenant": self.target_tenant,
            "auto_apply": self.auto_apply,
        }


def matches(rule: RuleSpec, facts: ComplaintFacts) -> bool:
    """Whether every non-empty condition of ``rule`` holds for ``facts`` (``enabled`` is ignored).

    Cheap checks first; keyword search, the only one that reads the text, last.
    """
    if rule.kinds and facts.kind not in rule.kinds:
        return False
    if rule.channels and facts.channel not in rule.channels:
        return False
    if rule.category_ids and (facts.category_id is None or facts.category_id not in rule.category_ids):
        return False
    if rule.region_prefixes and not any(
        region_within(facts.region_code, prefix) for prefix in rule.region_prefixes
    ):
        return False
    return not rule.keywords or any(facts.contains_keyword(keyword) for keyword in rule.keywords)


def first_match(rules: Iterable[RuleSpec], facts: ComplaintFacts) -> RuleSpec | None:
    """The enabled rule with the lowest position that matches, or None.

    Sorted here rather than trusted to arrive sorted, so callers may pass rules in any order;
    equal positions (possible only through a race the service prevents) fall back to the id.
    """
    ordered = sorted(rules, key=lambda rule: (rule.position, rule.id if rule.id is not None else 0))
    for rule in ordered:
        if rule.enabled and matches(rule, facts):
            return rule
    return None
