"""The background writer: checkpoints and status files are written on a thread of their own, latest per key."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from station.logging_setup import emit

log = logging.getLogger("station.engine")


class BackgroundWriter:
    """Runs the latest pending write per key on a thread of its own, so an fsync never delays a deadline."""

    def __init__(self) -> None:
        self._pending: dict[str, Callable[[], None]] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="state-writer", daemon=True)
        self._thread.start()

    def submit(self, key: str, write: Callable[[], None]) -> None:
        with self._cond:
            self._pending[key] = write
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    return
                key, write = next(iter(self._pending.items()))
                del self._pending[key]
                self._busy = True
            try:
                write()
            except OSError as exc:
                emit(log, logging.ERROR, "state-write-failed", f"{key}: {exc}")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every submitted write is done."""
        with self._cond:
            self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(10)
