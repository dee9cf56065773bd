"""Typed errors for damaged ISD input: one per skipped line, one for a damaged file."""

from __future__ import annotations


class IsdError(Exception):
    """Base class of every ISD decoding error."""


class IsdLineError(IsdError):
    """A line that cannot be decoded; the reader records it and continues with the next line.

    `kind` is a short stable tag usable for counting: 'length' (line shorter or longer than its declared
    length), 'length-field' (the 4-digit length is not digits), 'digits' (non-digits where the format requires
    digits), 'date' (impossible date or time), 'encoding' (bytes that are not ASCII/UTF-8).
    """

    def __init__(self, line_number: int, kind: str, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.kind = kind
        self.message = message


class IsdFileError(IsdError):
    """The file itself is damaged (e.g. a truncated .gz): reading stops after the last good line."""

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"after line {line_number - 1}: {message}")
        self.line_number = line_number
        self.kind = "file"
        self.message = message
