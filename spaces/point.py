"""Points: immutable, hashable architectures with a stable string key."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from .axis import Value, format_value


class Point(Mapping[str, Value]):
    """An architecture: an immutable mapping axis name -> value.

    Points are made by a :class:`~spaces.space.SearchSpace`, which validates and
    orders the coordinates, so two equal architectures have equal keys whatever
    order the user wrote them in.  The key (``frames=4,stride=12,...``) is what
    ledgers, caches and benchmark files store.
    """

    __slots__ = ("_items", "_values", "_hash")

    def __init__(self, items: Iterable[tuple[str, Value]]) -> None:
        pairs = tuple(items)
        object.__setattr__(self, "_items", pairs)
        object.__setattr__(self, "_values", dict(pairs))
        object.__setattr__(self, "_hash", hash(pairs))
        if len(self._values) != len(pairs):
            raise ValueError(f"duplicate axis in point {pairs!r}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Point is immutable; use replace() or a space's expand()")

    def __getitem__(self, name: str) -> Value:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Point):
            return self._items == other._items
        return NotImplemented

    def __repr__(self) -> str:
        return f"Point({self.key})"

    def __reduce__(self):
        return (Point, (self._items,))

    @property
    def key(self) -> str:
        """Stable text form, in the space's axis order: ``frames=4,stride=12,crop=160,...``."""
        return ",".join(f"{name}={format_value(value)}" for name, value in self._items)

    def replace(self, **changes: Value) -> "Point":
        """A copy with some coordinates changed (not validated: pass it through a space)."""
        unknown = set(changes) - set(self._values)
        if unknown:
            raise KeyError(f"no axis {sorted(unknown)} in {self.key}")
        return Point((name, changes.get(name, value)) for name, value in self._items)

    def as_dict(self) -> dict[str, Value]:
        return dict(self._items)


def coerce_mapping(values: Mapping[str, object] | Point) -> Mapping[str, object]:
    """Accept a Point or any mapping as the input of space methods."""
    return values.as_dict() if isinstance(values, Point) else values
