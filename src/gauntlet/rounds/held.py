"""Values a long-running process (the web app, its arena desk) reads from the store and
holds, so that a request never waits for the store to be read again.

`Held` keeps one value: read on the spot the first time it is needed; past `max_age` the
first caller to notice starts a read in the background and goes on with what is held, as
does everyone meanwhile.  A read that fails keeps the held value and is tried again
`max_age` later.  `in_background` is that background read for anything else that holds
state this way (the arena desk's open rounds).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger("gauntlet.held")


def in_background(work: Callable[[], Any], what: str) -> None:
    """Run `work` in a daemon thread; a failure (the store unreachable for now) is logged, and
    whoever holds what it would have read goes on with that."""
    def run() -> None:
        try:
            work()
        except Exception:
            log.warning("could not read %s from the store again; holding what was read", what, exc_info=True)

    threading.Thread(target=run, name=f"read-{what}"[:60], daemon=True).start()


class Held:
    def __init__(self, read: Callable[[], Any], what: str, *, max_age: float, clock=time.monotonic,
                 start: Callable[[Callable[[], Any], str], None] = in_background) -> None:
        self.read, self.what, self.max_age, self.clock, self.start = read, what, max_age, clock, start
        self._lock = threading.Lock()
        self._value: Any = None
        self._read_at: float | None = None
        self._rereading = False

    def read_now(self) -> Any:
        value = self.read()
        with self._lock:
            self._value, self._read_at = value, self.clock()
        return value

    def held(self) -> Any:
        """The held value (None when never read), starting a background read when it is old."""
        with self._lock:
            value, read_at = self._value, self._read_at
            stale = read_at is not None and self.clock() - read_at > self.max_age and not self._rereading
            if stale:
                self._rereading = True
        if stale:
            self.start(self._reread, self.what)
        return value

    def get(self) -> Any:
        """The held value, read on the spot the first time."""
        with self._lock:
            never = self._read_at is None
        return self.read_now() if never else self.held()

    def _reread(self) -> None:
        try:
            self.read_now()
        except Exception:
            with self._lock:
                self._read_at = self.clock()  # try again in `max_age`
            raise
        finally:
            with self._lock:
                self._rereading = False
