"""The store's challenges as a long-running process holds them: the web app's pages and
its arena desk ask this one list which challenge a request means.

The list is held (`gauntlet.rounds.held.Held`: read again in the background once
`max_age` old, so no request waits for it).  It is read on the spot only while the store
holds no challenge, and on a miss before the answer is "no such challenge": another
process (a second `gauntlet serve --workers N` worker, the CLI) may have registered it
since.  `held` answers from the list alone, for a caller on an event loop, which sends
what only a read can answer to a worker thread (`find`).
"""

from __future__ import annotations

import time

from gauntlet.errors import StoreError
from gauntlet.i18n import _
from gauntlet.rounds.held import Held, in_background


class Challenges:
    def __init__(self, store, *, max_age: float = 5.0, clock=time.monotonic, start=in_background) -> None:
        self._slugs = Held(lambda: [c["slug"] for c in store.challenges()], "the challenges", max_age=max_age,
                           clock=clock, start=start)

    def held(self, asked: str | None) -> str | None:
        """`find`'s answer where the held list gives it, else None."""
        slugs = self._slugs.held()
        if not slugs:
            return None
        if asked is None:
            return slugs[0]
        return asked if asked in slugs else None

    def find(self, asked: str | None) -> str:
        """The challenge named (it must exist), else the store's first one."""
        found = self.held(asked)
        if found is not None:
            return found
        slugs = self._slugs.read_now()
        if asked is not None:
            if asked not in slugs:
                raise StoreError(_("no challenge %(name)s in the store", name=repr(asked[:100])))
            return asked
        if not slugs:
            raise StoreError(_("this store holds no challenge yet"))
        return slugs[0]
