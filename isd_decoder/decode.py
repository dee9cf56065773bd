"""Decode one ISD line into an `IsdRecord` (or raise `IsdLineError`)."""

from __future__ import annotations

from isd_decoder.additional import decode_additional
from isd_decoder.errors import IsdLineError
from isd_decoder.mandatory import FIXED_LENGTH, decode_fixed
from isd_decoder.record import IsdRecord


def decode_line(line: bytes | str, line_number: int = 1) -> IsdRecord:
    """Decode one line (without or with its trailing newline); raises `IsdLineError` when it is damaged.

    The declared length (positions 1-4) is checked against the byte length of the line, so a line cut short
    or run together with the next one is refused rather than decoded from the wrong positions.
    """
    if isinstance(line, str):
        text = line.rstrip("\r\n")
        size = len(text.encode("utf-8", "surrogatepass"))
    else:
        raw = line.rstrip(b"\r\n")
        size = len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IsdLineError(
                line_number, "encoding", f"undecodable byte {raw[exc.start:exc.start + 1]!r} at position "
                f"{exc.start + 1}"
            ) from None
    declared = text[:4]
    if not (len(declared) == 4 and declared.isascii() and declared.isdigit()):
        raise IsdLineError(line_number, "length-field", f"length field {declared!r} is not 4 digits")
    expected = FIXED_LENGTH + int(declared)
    if size != expected:
        word = "short" if size < expected else "long"
        raise IsdLineError(
            line_number, "length", f"line too {word}: {size} characters, positions 1-4 declare {expected}"
        )
    fixed = decode_fixed(text, line_number)
    extra = decode_additional(text, FIXED_LENGTH, line_number)
    return IsdRecord(
        line_number,
        *fixed,
        extra.groups,
        extra.skipped,
        extra.unknown_identifier,
        extra.unparsed,
        extra.remarks,
        extra.eqd_text,
        extra.qnn_text,
        extra.lists,
        text,
    )
