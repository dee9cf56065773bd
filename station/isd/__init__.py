"""NOAA ISD (DS3505) decoding: a streaming reader yielding typed, exact records.

    with read_isd("723123-14886-2022.gz") as reader:
        for record in reader:
            ...
    reader.errors, reader.stats   # skipped lines (typed, with line numbers) and counts
"""

from station.isd.decode import decode_line
from station.isd.errors import IsdError, IsdFileError, IsdLineError
from station.isd.lengths import GROUP_LENGTHS
from station.isd.reader import IsdReader, IsdStats, read_isd
from station.isd.record import IsdRecord

__all__ = [
    "GROUP_LENGTHS",
    "IsdError",
    "IsdFileError",
    "IsdLineError",
    "IsdReader",
    "IsdRecord",
    "IsdStats",
    "decode_line",
    "read_isd",
]
