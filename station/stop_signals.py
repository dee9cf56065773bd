"""SIGTERM/SIGINT handling shared by `station run` (one station) and group mode: the first signal asks the runner
to stop after its in-flight publishes (at most DRAIN_TIMEOUT), a second one exits at once with status 130."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Protocol

from station.logging_setup import emit


class Stoppable(Protocol):
    stop: threading.Event

    def request_stop(self, reason: str) -> None: ...


def install(runner: Stoppable, log: logging.Logger, drain_timeout: float) -> None:
    """Route SIGTERM and SIGINT to `runner.request_stop`; a second signal exits without waiting."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if runner.stop.is_set():
            emit(log, logging.WARNING, "signal", f"second {name}: exiting without waiting")
            sys.stderr.flush()
            os._exit(130)
        emit(log, logging.INFO, "signal", f"{name}: stopping after in-flight publishes (at most {drain_timeout:g} s)")
        runner.request_stop(name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
