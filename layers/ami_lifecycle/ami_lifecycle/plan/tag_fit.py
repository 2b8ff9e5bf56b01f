"""Fitting tags within EC2's limits: what a write may add to a resource that already carries tags. Pure.

EC2 (CreateTags, and TagSpecifications of CopyImage and RunInstances) refuses a whole request that would leave
any resource with more than 50 user tags (`TagLimitExceeded`) or that names a key over 128 or a value over 256
characters, or a key starting with `aws:` (`InvalidParameterValue`). Tags with the `aws:` prefix are EC2's own
and do not count. So every write the product makes is fitted first, in a documented order:

1. the product's own tags (lineage, then any marks), in the order the caller gives them;
2. propagated tags whose key matches a `priority` glob of the policy, glob by glob in the listed order
   (alphabetically within one glob);
3. the other propagated tags, alphabetically.

A key the resource already carries costs nothing (its value is overwritten), keys `reserve`d for marks the
product writes later are kept free, and a tag that does not fit is left out and named. Tags are never removed
here: the user's tags on a resource always stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..model.image import MAX_KEY_LENGTH, MAX_USER_TAGS, MAX_VALUE_LENGTH
from ..model.image import is_reserved_tag as is_reserved


def is_writable(key: str, value: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and len(value) <= MAX_VALUE_LENGTH and not is_reserved(key)


def user_keys(tags: Iterable[str]) -> set[str]:
    """The keys that count towards EC2's limit of 50 per resource."""
    return {k for k in tags if not is_reserved(k)}


def free_slots(tags: Iterable[str], reserve: Iterable[str] = ()) -> int:
    """How many new keys a resource with these tags can still take, keeping `reserve` free (may be negative)."""
    present = user_keys(tags)
    return MAX_USER_TAGS - len(present) - len(set(reserve) - present)


def ranked_keys(keys: Iterable[str], priority: Sequence[str] = ()) -> list[str]:
    """Keys in propagation order: those matching the priority globs, glob by glob, then the rest; each
    group alphabetically."""

    def rank(key: str) -> tuple[int, str]:
        position = next((i for i, glob in enumerate(priority) if fnmatchcase(key, glob)), len(priority))
        return position, key

    return sorted(keys, key=rank)


@dataclass(frozen=True)
class TagFit:
    """The tags a write may set on one resource, and what was left out."""

    tags: dict[str, str]
    dropped: tuple[str, ...] = ()  # left out: no room within the 50 tags
    invalid: tuple[str, ...] = ()  # left out: longer than EC2 allows, or an `aws:` key

    @property
    def left_out(self) -> tuple[str, ...]:
        return self.dropped + self.invalid

    def describe(self) -> str:
        """What was left out, for plan notes and logs; empty when nothing was."""
        parts = []
        if self.dropped:
            parts.append(f"{len(self.dropped)} tags left out, EC2 allows {MAX_USER_TAGS}: {', '.join(self.dropped)}")
        if self.invalid:
            parts.append(
                f"{len(self.invalid)} tags left out, over EC2's {MAX_KEY_LENGTH}/{MAX_VALUE_LENGTH}-character "
                f"key/value limits: {', '.join(_short(k) for k in self.invalid)}"
            )
        return "; ".join(parts)


def fit_tags(
    product: Mapping[str, str],
    propagated: Mapping[str, str] | None = None,
    existing: Mapping[str, str] | None = None,
    reserve: Iterable[str] = (),
    priority: Sequence[str] = (),
) -> TagFit:
    """The tags to write on a resource that carries `existing`: `product` first, then `propagated` in
    propagation order, as many as fit beside what is there and the `reserve`d keys."""
    existing, propagated = existing or {}, propagated or {}
    room = free_slots(existing, reserve)
    present = user_keys(existing)
    order = [(k, product[k]) for k in product]
    order += [(k, propagated[k]) for k in ranked_keys(propagated.keys() - product.keys(), priority)]
    tags: dict[str, str] = {}
    dropped: list[str] = []
    invalid: list[str] = []
    for key, value in order:
        if not is_writable(key, value):
            invalid.append(key)
        elif key in present:
            tags[key] = value
        elif room > 0:
            tags[key] = value
            room -= 1
        else:
            dropped.append(key)
    return TagFit(tags, tuple(dropped), tuple(invalid))


def _short(key: str) -> str:
    return key if len(key) <= 40 else f"{key[:37]}..."


@dataclass(frozen=True)
class MarkFit:
    """The marks that fit on one resource, and the product's own tags it gives up first to make room."""

    marks: dict[str, str]
    give_up: tuple[str, ...] = ()

    @property
    def as_is(self) -> bool:
        """Every mark fits without giving anything up."""
        return not self.give_up


def fit_marks(existing: Mapping[str, str], marks: Mapping[str, str], expendable: Sequence[str]) -> MarkFit:
    """Marks (most important first) on a resource that carries `existing`. When they do not all fit, the
    product's own `expendable` tags are given up, in order, for the missing ones; the user's tags never are."""
    wanted = [k for k in marks if k not in user_keys(existing)]
    room = free_slots(existing)
    give_up: list[str] = []
    for key in expendable:
        if room >= len(wanted):
            break
        if key in existing and key not in marks:
            give_up.append(key)
            room += 1
    fitting = set(wanted[: max(room, 0)])
    return MarkFit({k: v for k, v in marks.items() if k in fitting or k in existing}, tuple(give_up))
