"""The variable part of a line (after position 105): ADD groups, then REM, EQD and QNN sections.

ADD groups are walked in order with the length table, never searched by substring (a search finds 'AU1'
inside 'AT1AU18SN'). The REM, EQD and QNN sections may come in any order; each is split by its own lengths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from isd_decoder.errors import IsdLineError
from isd_decoder.groups import DECODERS, GroupSpec
from isd_decoder.lengths import GROUP_LENGTHS

SECTION_TAGS = frozenset(("REM", "EQD", "QNN"))
EQD_ITEM_LENGTH = 16  # identifier(3) original value(6) reason code(1) parameter code(6)
QNN_ITEM_LENGTH = 11  # element identifier(1) flags(4) original value(6)

# A run of fixed-size items up to the next section tag, matched in one call (the items are split on access).
_EQD_RUN = re.compile(r"(?:(?!REM|EQD|QNN)[\s\S]{16})*").match
_QNN_RUN = re.compile(r"(?:(?!REM|EQD|QNN)[\s\S]{11})*").match

# identifier -> (length of the group including its identifier, its decoding spec or None when skipped)
GROUP_TABLE: dict[str, tuple[int, GroupSpec | None]] = {
    ident: (3 + length, DECODERS.get(ident)) for ident, length in GROUP_LENGTHS.items()
}

# Decoded groups by their raw text: (read-only group, message list index or None, message entry).
# Stations repeat the same groups line after line (over 90% of the decoded groups of the sample files are
# repeats), so a decoded group and its message entry are kept and shared by every record holding it.
_DECODED: dict[str, tuple[Mapping[str, object], int | None, dict | None]] = {}
# A station-year of the sample files has 1,500 to 9,000 distinct decoded groups; past the limit (about 2 KB an
# entry) the cache starts over, which bounds memory on unusual files.
DECODED_CACHE_LIMIT = 16_384


def clear_decoded_cache() -> None:
    """Forget every decoded group (benchmarks start each run cold with it)."""
    _DECODED.clear()


class Additional:
    """What the variable part of one line holds (plain attributes, filled by `decode_additional`)."""

    __slots__ = ("groups", "skipped", "unknown_identifier", "unparsed", "remarks", "eqd_text", "qnn_text", "lists")

    def __init__(self) -> None:
        self.groups: dict[str, Mapping[str, object]] = {}
        self.skipped: dict[str, str] = {}
        self.unknown_identifier: str | None = None
        self.unparsed: str | None = None
        self.remarks: list[tuple[str, str]] = []
        self.eqd_text = ""  # the EQD items, 16 characters each
        self.qnn_text = ""  # the QNN items, 11 characters each
        # message entries: liquid_precip, weather_condition, weather_occurrence, sky_cover_condition,
        # extreme_temperature (see isd_decoder.groups.MESSAGE_LISTS)
        self.lists: tuple[list[dict], ...] = ([], [], [], [], [])


def decode_additional(text: str, start: int, line_number: int) -> Additional:
    """Decode `text[start:]` (the characters after the mandatory section)."""
    out = Additional()
    n = len(text)
    pos = start
    if text.startswith("ADD", pos):
        pos = _walk_groups(text, pos + 3, n, line_number, out)
    while pos < n:
        tag = text[pos : pos + 3]
        if tag == "REM":
            pos = _remarks(text, pos + 3, n, line_number, out.remarks)
        elif tag == "EQD":
            end = _run_end(_EQD_RUN, text, pos + 3, n, line_number, EQD_ITEM_LENGTH, "EQD")
            out.eqd_text += text[pos + 3 : end]
            pos = end
        elif tag == "QNN":
            end = _run_end(_QNN_RUN, text, pos + 3, n, line_number, QNN_ITEM_LENGTH, "QNN")
            out.qnn_text += text[pos + 3 : end]
            pos = end
        elif out.unparsed is not None:
            break
        else:
            raise IsdLineError(
                line_number, "section", f"expected ADD, REM, EQD or QNN at position {pos + 1}, found {tag!r}"
            )
    return out


def _walk_groups(text: str, pos: int, n: int, line_number: int, out: Additional) -> int:
    groups = out.groups
    skipped = out.skipped
    lists = out.lists
    table = GROUP_TABLE
    decoded = _DECODED
    while pos < n:
        ident = text[pos : pos + 3]
        entry = table.get(ident)
        if entry is None:
            if ident in SECTION_TAGS:
                return pos
            out.unknown_identifier = ident
            out.unparsed = text[pos:]
            return n
        length, spec = entry
        end = pos + length
        if end > n:
            raise IsdLineError(
                line_number,
                "group-length",
                f"{ident} at position {pos + 1} needs {length - 3} characters, the line has {n - pos - 3}",
            )
        if spec is None:
            skipped[ident] = text[pos + 3 : end]
        else:
            chunk = text[pos:end]
            value = decoded.get(chunk)
            if value is None:
                decoder, slot, to_message = spec
                group = decoder(chunk[3:], ident, line_number)
                value = (MappingProxyType(group), slot, None if to_message is None else to_message(group))
                if len(decoded) >= DECODED_CACHE_LIMIT:
                    decoded.clear()
                decoded[chunk] = value
            groups[ident] = value[0]
            if value[1] is not None:
                lists[value[1]].append(value[2])
        pos = end
    return pos


def _remarks(text: str, pos: int, n: int, line_number: int, remarks: list[tuple[str, str]]) -> int:
    """REM: remark items, each type(3) length(3 digits) text(length), until EQD, QNN or the end."""
    while pos < n:
        kind = text[pos : pos + 3]
        if kind == "EQD" or kind == "QNN":
            return pos
        size = text[pos + 3 : pos + 6]
        if not (len(size) == 3 and size.isascii() and size.isdigit()):
            raise IsdLineError(
                line_number, "remark", f"remark {kind!r} at position {pos + 1}: length {size!r} is not 3 digits"
            )
        end = pos + 6 + int(size)
        if end > n:
            raise IsdLineError(
                line_number, "remark", f"remark {kind!r} at position {pos + 1} declares {size} characters, "
                f"the line has {n - pos - 6}",
            )
        remarks.append((kind, text[pos + 6 : end]))
        pos = end
    return pos


def _run_end(run, text: str, pos: int, n: int, line_number: int, size: int, section: str) -> int:  # type: ignore[no-untyped-def]
    """EQD / QNN: where the run of `size`-character items starting at `pos` ends (next tag or line end)."""
    end = run(text, pos).end()
    if end < n and text[end : end + 3] not in SECTION_TAGS:
        raise IsdLineError(
            line_number, "section", f"{section} item at position {end + 1} needs {size} characters, "
            f"the line has {n - end}",
        )
    return end


def split_eqd(items: str) -> list[tuple[str, str, str, str]]:
    """EQD items as (identifier, original value, reason code, parameter code)."""
    return [(items[i : i + 3], items[i + 3 : i + 9], items[i + 9], items[i + 10 : i + 16])
            for i in range(0, len(items), EQD_ITEM_LENGTH)]


def split_qnn(items: str) -> list[tuple[str, str, str]]:
    """QNN items as (element identifier, flags, original value)."""
    return [(items[i], items[i + 1 : i + 5], items[i + 5 : i + 11]) for i in range(0, len(items), QNN_ITEM_LENGTH)]
