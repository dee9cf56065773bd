"""Sky-cover code tables (GA1-GA6 layers, GD summation, GF1 observation)."""

from __future__ import annotations

# GA coverage code -> oktas (0-8). '09' (sky obscured / cannot be estimated) and '10' (partial obscuration)
# are not an amount of cloud: they map to None, like the missing code '99'.
COVERAGE_OKTAS: dict[str, int] = {f"{n:02d}": n for n in range(9)}

# GA coverage code -> words.
COVERAGE_WORDS: dict[str, str] = {
    "00": "None, SKC or CLR",
    "01": "One okta, 1/10 or less but not zero",
    "02": "Two oktas, 2/10 - 3/10, or FEW",
    "03": "Three oktas, 4/10",
    "04": "Four oktas, 5/10, or SCT",
    "05": "Five oktas, 6/10",
    "06": "Six oktas, 7/10 - 8/10",
    "07": "Seven oktas, 9/10 or more but not 10/10, or BKN",
    "08": "Eight oktas, 10/10, or OVC",
    "09": "Sky obscured, or cloud amount cannot be estimated",
    "10": "Partial obscuration",
}

# GA / GF cloud type (genus) code -> name. '99' (missing) is absent on purpose.
CLOUD_TYPES: dict[str, str] = {
    "00": "Cirrus",
    "01": "Cirrocumulus",
    "02": "Cirrostratus",
    "03": "Altocumulus",
    "04": "Altostratus",
    "05": "Nimbostratus",
    "06": "Stratocumulus",
    "07": "Stratus",
    "08": "Cumulus",
    "09": "Cumulonimbus",
    "10": "Cloud not visible owing to darkness, fog, duststorm, sandstorm, or other analogous phenomena",
    "11": "Not used",
    "12": "Towering Cumulus",
    "13": "Stratus fractus",
    "14": "Stratocumulus lenticularis",
    "15": "Cumulus fractus",
    "16": "Cumulonimbus mammatus",
    "17": "Altocumulus lenticularis",
    "18": "Altocumulus castellanus",
    "19": "Altocumulus mammatus",
    "20": "Cirrocumulus lenticularis",
    "21": "Cirrus and/or Cirrocumulus",
    "22": "Stratus and/or Fracto-stratus",
    "23": "Cumulus and/or Fracto-cumulus",
}

# GD summation coverage code (first character) -> words.
SUMMATION_COVERAGE: dict[str, str] = {
    "0": "Clear",
    "1": "Few",
    "2": "Scattered",
    "3": "Broken",
    "4": "Overcast",
    "5": "Obscured",
    "6": "Partially obscured",
}
