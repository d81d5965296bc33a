"""One small thread-safe cache for the process-wide caches (models, trained models, features).

Least recently used entries go first once `max_items` is passed (None: no limit). `get_or_build`
builds a missing value once even when several visitors ask for it at the same moment.
"""
from __future__ import annotations

import collections
import threading
from typing import Callable, Hashable


class LruCache:
    def __init__(self, max_items: int | None = None, keep: Callable[[Hashable], bool] | None = None):
        # keep(key) True: never evicted, and not counted against max_items (e.g. the bundled model).
        self.max_items = max_items
        self.keep = keep or (lambda key: False)
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, key, default=None):
        """The value (now the most recently used), or `default`."""
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._put(key, value)

    def put_many(self, pairs) -> None:
        with self._lock:
            for key, value in pairs:
                self._put(key, value)

    def get_many(self, keys) -> list:
        """The value or None for each key, under one lock."""
        with self._lock:
            found = []
            for key in keys:
                if key in self._items:
                    self._items.move_to_end(key)
                found.append(self._items.get(key))
            return found

    def get_or_build(self, key, build: Callable[[], object]):
        """The cached value, or build() stored and returned (one build per key at a time)."""
        value = self.get(key, _MISSING)
        if value is not _MISSING:
            return value
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        try:
            with building:
                value = self.get(key, _MISSING)
                if value is _MISSING:
                    value = build()
                    self.put(key, value)
        finally:
            with self._lock:  # built (or failed): its lock is not kept for the life of the process
                if self._building.get(key) is building:
                    del self._building[key]
        return value

    def discard(self, predicate: Callable[[Hashable], bool] = lambda key: True) -> None:
        """Drop every entry whose key matches (all of them by default)."""
        with self._lock:
            for key in [k for k in self._items if predicate(k)]:
                del self._items[key]

    def _put(self, key, value) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if self.max_items is None:
            return
        evictable = [k for k in self._items if not self.keep(k)]
        for old in evictable[:max(0, len(evictable) - self.max_items)]:  # least recently used first
            del self._items[old]


_MISSING = object()
