"""The variable part of a line (after position 105): ADD groups, then REM, EQD and QNN sections.

ADD groups are walked in order with the length table, never searched by substring (a search finds 'AU1'
inside 'AT1AU18SN'). The REM, EQD and QNN sections may come in any order; each is split by its own lengths.
"""

from __future__ import annotations

from station.isd.errors import IsdLineError
from station.isd.groups import DECODERS
from station.isd.lengths import GROUP_LENGTHS

SECTION_TAGS = frozenset(("REM", "EQD", "QNN"))
EQD_ITEM_LENGTH = 16  # identifier(3) original value(6) reason code(1) parameter code(6)
QNN_ITEM_LENGTH = 11  # element identifier(1) flags(4) original value(6)


class Additional:
    """What the variable part of one line holds (plain attributes, filled by `decode_additional`)."""

    __slots__ = ("groups", "skipped", "unknown_identifier", "unparsed", "remarks", "eqd", "qnn")

    def __init__(self) -> None:
        self.groups: dict[str, dict] = {}
        self.skipped: dict[str, str] = {}
        self.unknown_identifier: str | None = None
        self.unparsed: str | None = None
        self.remarks: list[tuple[str, str]] = []
        self.eqd: list[tuple[str, str, str, str]] = []
        self.qnn: list[tuple[str, str, str]] = []


_EMPTY_GROUPS: dict[str, dict] = {}


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
            pos = _items(text, pos + 3, n, line_number, EQD_ITEM_LENGTH, "EQD", out.eqd)
        elif tag == "QNN":
            pos = _items(text, pos + 3, n, line_number, QNN_ITEM_LENGTH, "QNN", out.qnn)
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
    lengths = GROUP_LENGTHS
    decoders = DECODERS
    while pos < n:
        ident = text[pos : pos + 3]
        if ident in SECTION_TAGS:
            return pos
        length = lengths.get(ident)
        if length is None:
            out.unknown_identifier = ident
            out.unparsed = text[pos:]
            return n
        end = pos + 3 + length
        if end > n:
            raise IsdLineError(
                line_number,
                "group-length",
                f"{ident} at position {pos + 1} needs {length} characters, the line has {n - pos - 3}",
            )
        decoder = decoders.get(ident)
        if decoder is None:
            skipped[ident] = text[pos + 3 : end]
        else:
            groups[ident] = decoder(text[pos + 3 : end], ident, line_number)
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


def _items(text: str, pos: int, n: int, line_number: int, size: int, section: str, items: list) -> int:
    """EQD / QNN: fixed-size items until another section tag or the end."""
    while pos < n:
        tag = text[pos : pos + 3]
        if tag in SECTION_TAGS:
            return pos
        end = pos + size
        if end > n:
            raise IsdLineError(
                line_number, "section", f"{section} item at position {pos + 1} needs {size} characters, "
                f"the line has {n - pos}",
            )
        if size == EQD_ITEM_LENGTH:
            items.append((tag, text[pos + 3 : pos + 9], text[pos + 9], text[pos + 10 : end]))
        else:
            items.append((text[pos], text[pos + 1 : pos + 5], text[pos + 5 : end]))
        pos = end
    return pos
