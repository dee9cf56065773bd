"""Code tables of the ISD format document, turned into words (the code is always kept beside the word)."""

from isd_decoder.codes.clouds import CLOUD_TYPES, COVERAGE_OKTAS
from isd_decoder.codes.weather import (
    AU_COMBINATION,
    AU_DESCRIPTOR,
    AU_INTENSITY,
    AU_OBSCURATION,
    AU_OTHER,
    AU_PRECIPITATION,
    AUTOMATED_WEATHER,
    MANUAL_WEATHER,
)

__all__ = [
    "AUTOMATED_WEATHER",
    "AU_COMBINATION",
    "AU_DESCRIPTOR",
    "AU_INTENSITY",
    "AU_OBSCURATION",
    "AU_OTHER",
    "AU_PRECIPITATION",
    "CLOUD_TYPES",
    "COVERAGE_OKTAS",
    "MANUAL_WEATHER",
]
