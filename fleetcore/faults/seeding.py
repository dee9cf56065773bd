"""Seeded decisions that do not depend on order, process or restart: each is a pure function of the scenario's
seed, the rule's index, the thing and (per message) the seq.

`unit(...)` maps its parts to a float in [0, 1) through a 64-bit BLAKE2b digest; the per-message form mixes a
per-(seed, rule, thing) base with the seq by splitmix64, so deciding on a message costs a few integer operations.
"""

from __future__ import annotations

import hashlib

_MASK = (1 << 64) - 1
_SCALE = 1.0 / (1 << 64)


def hash64(*parts: object) -> int:
    """A stable 64-bit hash of `parts` (their `str`, separated by NUL)."""
    text = "\x00".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def unit(*parts: object) -> float:
    """`hash64(*parts)` as a float in [0, 1)."""
    return hash64(*parts) * _SCALE


def mix(base: int, seq: int) -> float:
    """splitmix64 of `base ^ seq` as a float in [0, 1): the per-message draw of a rule for one station."""
    z = (base ^ seq) + 0x9E3779B97F4A7C15 & _MASK
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & _MASK
    return (z ^ (z >> 31)) * _SCALE
