"""The message `station convert` and `station inspect` give for a file of which no line decodes (they then exit 1)."""

from __future__ import annotations

from pathlib import Path

from isd_decoder.reader import IsdStats


def no_records_message(path: Path, stats: IsdStats) -> str:
    """One line: why the file gave no record, and what to check. Only for `stats.records == 0`."""
    if stats.lines == 0:
        return f"{path} holds no line at all (empty file): not an ISD station-year"
    kinds = ", ".join(f"{kind} {n}" for kind, n in stats.skipped_by_kind.most_common())
    return (f"no line of {path} is an ISD record ({stats.lines} lines read, all skipped: {kinds}); "
            f"is it an ISD station-year file (USAF-WBAN-YEAR[.gz], NCEI format)?")
