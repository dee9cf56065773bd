"""NOAA ISD (DS3505) decoding: a streaming reader yielding typed, exact records.

    with read_isd("723123-14886-2022.gz") as reader:
        for record in reader:
            ...
    reader.errors, reader.stats   # skipped lines (typed, with line numbers) and counts
"""

from isd_decoder.decode import decode_line
from isd_decoder.errors import IsdError, IsdFileError, IsdLineError
from isd_decoder.lengths import GROUP_LENGTHS
from isd_decoder.reader import IsdReader, IsdStats, open_isd, read_isd
from isd_decoder.record import IsdRecord

__all__ = [
    "GROUP_LENGTHS",
    "IsdError",
    "IsdFileError",
    "IsdLineError",
    "IsdReader",
    "IsdRecord",
    "IsdStats",
    "decode_line",
    "open_isd",
    "read_isd",
]
