"""The ack window: messages in flight in publish order, and the contiguous acknowledged prefix.

Invariant: `last_ack` is the (seq, line, pass) of the last message such that it and every message published
before it are resolved (acknowledged, or failed and counted); the checkpoint advances only over it, so a restart
never skips a message the broker did not take. A failed publish resolves its place (it is counted and logged,
never retried). A seq dropped at the source by a fault is resolved by `resolve`; the completion of an extra copy
(a duplicate or forged message, token `Extra`) is counted but resolves nothing.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import NamedTuple

from station.publisher import Completion

Ack = tuple[int, int, int]  # (seq, line, pass)


class Extra(NamedTuple):
    """The publish token of an extra copy of `seq` (never equal to an int seq)."""

    seq: int


class AckLedger:
    """See module docstring."""

    __slots__ = ("_order", "_resolved", "last_ack", "saved_ack")

    def __init__(self, last_ack: Ack | None = None) -> None:
        self._order: collections.deque[Ack] = collections.deque()
        self._resolved: set[int] = set()
        self.last_ack = last_ack
        self.saved_ack = last_ack

    def sent(self, seq: int, line: int, passes: int) -> None:
        self._order.append((seq, line, passes))

    def absorb(self, completions: Iterable[Completion]) -> tuple[int, list[Completion]]:
        """Resolve `completions` (publish order); (acknowledged count, the failed ones)."""
        order, resolved = self._order, self._resolved
        acked = 0
        failed: list[Completion] = []
        for c in completions:
            token = c.token
            if c.ok:
                acked += 1
                if not resolved and order and order[0][0] == token:  # the usual case: the oldest one
                    self.last_ack = order.popleft()
                    continue
            else:
                failed.append(c)
            if token.__class__ is not Extra:
                resolved.add(token)
        self._advance()
        return acked, failed

    def resolve(self, seq: int) -> None:
        """`seq` needs no PUBACK (dropped at the source): its place is resolved."""
        self._resolved.add(seq)
        self._advance()

    def _advance(self) -> None:
        order, resolved = self._order, self._resolved
        while order and order[0][0] in resolved:
            self.last_ack = order.popleft()
            resolved.discard(self.last_ack[0])

    def changed(self) -> Ack | None:
        """The prefix to save now (marking it saved), None when it did not move since the last save."""
        if self.last_ack is None or self.last_ack == self.saved_ack:
            return None
        self.saved_ack = self.last_ack
        return self.last_ack
