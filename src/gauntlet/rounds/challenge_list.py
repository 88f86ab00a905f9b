"""The store's challenges as a long-running process holds them: the web app's pages and
its arena desk ask this one list which challenge a request means.

The list is read once and held.  Past `max_age` the first caller to notice starts a
read in the background and goes on with the held list, as does everyone meanwhile, so
no request waits for it.  It is read on the spot only while the store holds no
challenge, and on a miss before the answer is "no such challenge": another process
(a second `gauntlet serve --workers N` worker, the CLI) may have registered it since.
`held` answers from the list alone, for a caller on an event loop, which sends what
only a read can answer to a worker thread (`find`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from gauntlet.errors import StoreError
from gauntlet.i18n import _

log = logging.getLogger("gauntlet.challenges")


def _in_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="challenge-list-read", daemon=True).start()


class Challenges:
    def __init__(self, store, *, max_age: float = 5.0, clock=time.monotonic,
                 in_background: Callable[[Callable[[], None]], None] = _in_thread) -> None:
        self.store = store
        self.max_age = max_age
        self.clock = clock
        self.in_background = in_background
        self._lock = threading.Lock()
        self._slugs: list[str] = []
        self._read_at: float | None = None
        self._rereading = False

    def _read(self) -> list[str]:
        slugs = [c["slug"] for c in self.store.challenges()]
        with self._lock:
            self._slugs, self._read_at = slugs, self.clock()
        return slugs

    def _reread_later(self) -> None:
        with self._lock:
            if self._rereading:
                return
            self._rereading = True

        def reread() -> None:
            try:
                self._read()
            except Exception:  # the store is unreachable for now: keep what is held, try again later
                log.warning("could not read the store's challenges again; holding the last list", exc_info=True)
                with self._lock:
                    self._read_at = self.clock()
            finally:
                with self._lock:
                    self._rereading = False

        self.in_background(reread)

    def held(self, asked: str | None) -> str | None:
        """`find`'s answer where the held list gives it (starting a background read when the
        list is old), else None."""
        with self._lock:
            slugs, read_at = self._slugs, self._read_at
        if not slugs:
            return None
        if self.clock() - read_at > self.max_age:
            self._reread_later()
        if asked is None:
            return slugs[0]
        return asked if asked in slugs else None

    def find(self, asked: str | None) -> str:
        """The challenge named (it must exist), else the store's first one."""
        found = self.held(asked)
        if found is not None:
            return found
        slugs = self._read()
        if asked is not None:
            if asked not in slugs:
                raise StoreError(_("no challenge %(name)s in the store", name=repr(asked[:100])))
            return asked
        if not slugs:
            raise StoreError(_("this store holds no challenge yet"))
        return slugs[0]
