"""Summarise an ISD file while streaming it: what `station inspect` prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from isd_decoder.record import IsdRecord


@dataclass
class IsdSummary:
    """Counts over the records of one file (fed one record at a time with `add`)."""

    records: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    earliest: datetime | None = None
    latest: datetime | None = None
    out_of_order: int = 0
    duplicate_times: int = 0
    stations: Counter[str] = field(default_factory=Counter)
    positions: Counter[tuple] = field(default_factory=Counter)
    call_letters: Counter[str] = field(default_factory=Counter)
    report_types: Counter[str] = field(default_factory=Counter)
    sections: Counter[str] = field(default_factory=Counter)
    identifiers: Counter[str] = field(default_factory=Counter)
    remark_types: Counter[str] = field(default_factory=Counter)
    unknown_identifiers: Counter[str] = field(default_factory=Counter)

    def add(self, record: IsdRecord) -> None:
        time = record.time
        if self.records == 0:
            self.first_time = self.earliest = self.latest = time
        else:
            if time < self.last_time:  # type: ignore[operator]
                self.out_of_order += 1
            elif time == self.last_time:
                self.duplicate_times += 1
            if time < self.earliest:  # type: ignore[operator]
                self.earliest = time
            if time > self.latest:  # type: ignore[operator]
                self.latest = time
        self.last_time = time
        self.records += 1
        self.stations[record.station_id] += 1
        self.positions[(record.latitude, record.longitude, record.elevation)] += 1
        if record.call_letters:
            self.call_letters[record.call_letters] += 1
        self.report_types[record.report_type or "missing"] += 1
        raw = record.raw
        if raw.startswith("ADD", 105):
            self.sections["ADD"] += 1
        if record.remarks:
            self.sections["REM"] += 1
            for kind, _ in record.remarks:
                self.remark_types[kind] += 1
        if record.eqd_text:
            self.sections["EQD"] += 1
        if record.qnn_text:
            self.sections["QNN"] += 1
        for ident in record.groups:
            self.identifiers[ident] += 1
        for ident in record.skipped:
            self.identifiers[ident] += 1
        if record.unknown_identifier is not None:
            self.unknown_identifiers[record.unknown_identifier] += 1

    def as_dict(self) -> dict:
        """A JSON-ready view."""

        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {
            "records": self.records,
            "first_time": iso(self.first_time),
            "last_time": iso(self.last_time),
            "earliest": iso(self.earliest),
            "latest": iso(self.latest),
            "out_of_order": self.out_of_order,
            "duplicate_times": self.duplicate_times,
            "stations": dict(self.stations.most_common()),
            "positions": [
                {"latitude": p[0], "longitude": p[1], "elevation": p[2], "records": n}
                for p, n in self.positions.most_common()
            ],
            "call_letters": dict(self.call_letters.most_common()),
            "report_types": dict(self.report_types.most_common()),
            "sections": dict(sorted(self.sections.items())),
            "identifiers": dict(sorted(self.identifiers.items())),
            "remark_types": dict(self.remark_types.most_common()),
            "unknown_identifiers": dict(self.unknown_identifiers.most_common()),
        }
