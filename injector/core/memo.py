"""Memo tables bounded by the bytes they hold, for the engine's and the template's caches.

The Pods of one workload are alike, so the engine remembers settings, renders and
outcomes. Their keys are built from what a Pod's author wrote (annotation values,
container ports), so a count of entries bounds nothing: 200 unique Pods with a 117 KiB
port list took the RSS from 21 to 227 MiB. Here every entry is charged a size in bytes
that the caller computes (its key and value, roughly); an entry over `max_entry_bytes`
is not kept at all, and the oldest entries go when the total would pass `max_bytes`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Each table holds at most this much, and no single entry larger than a sixty-fourth of it.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_ENTRY_BYTES = 64 * 1024


class Memo(Generic[K, V]):
    """A dict from key to value, first in first out, bounded in bytes and in entries."""

    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
    ) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._items: dict[K, tuple[V, int]] = {}
        self.bytes_held = 0

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        return None if found is None else found[0]

    def put(self, key: K, value: V, *, size: int) -> None:
        """Remember `value` under `key`, charged `size` bytes, unless it is too large."""
        if size > self.max_entry_bytes or key in self._items:
            return
        while self._items and (
            self.bytes_held + size > self.max_bytes or len(self._items) >= self.max_entries
        ):
            _, (_, dropped) = self._pop_oldest()
            self.bytes_held -= dropped
        self._items[key] = (value, size)
        self.bytes_held += size

    def _pop_oldest(self) -> tuple[K, tuple[V, int]]:
        oldest = next(iter(self._items))
        return oldest, self._items.pop(oldest)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)
