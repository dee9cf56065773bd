"""MW, AW and AU words, GA base-height quality and the KA code, checked against the ISD format document's text.

The DOC_* strings below are copied from the format document (isd-format-document.pdf, Part 5 pages 29-31 and
Part 28 pages 95-97, page furniture removed); the tables in isd_decoder.codes must say what they say.
"""

from __future__ import annotations

import re

import pytest

from isd_decoder import decode_line
from isd_decoder.codes import weather
from station.build import build_message
from tests.support.isd_lines import isd_line

DOC_AW = """
00 = No significant weather observed
01 = Clouds generally dissolving or becoming less developed
02 = State of sky on the whole unchanged during the past hour
03 = Clouds generally forming or developing during the past hour
04 = Haze, smoke, or dust in suspension in the air, visibility equal to or greater than 1km
05 = Smoke
07 = Dust or sand raised by wind at or near the station at the time of observation, but no well-developed dust irl(s)
    whirls(s) or sand whirl(s), and no duststorm or sandstorm seen or, in the case of ships, blowing spray at the
   station
10 = Mist
11 = Diamond dust
12 = Distant lightning
18 = Squalls
20 = Fog
21 = Precipitation
22 = Drizzle (not freezing) or snow grains
23 = Rain (not freezing)
24 = Snow
25 = Freezing drizzle or freezing rain
26 = Thunderstorm (with or without precipitation)
27 = Blowing or drifting snow or sand
28 = Blowing or drifting snow or sand, visibility equal to or greater than 1 km
29 = Blowing or drifting snow or sand, visibility less than 1 km
30 = Fog
31 = Fog or ice fog in patches
32 = Fog or ice fog, has become thinner during the past hour
33 = Fog or ice fog, no appreciable change during the past hour
34 = Fog or ice fog, has begun or become thicker during the past hour
35 = Fog, depositing rime
40 = Precipitation
41 = Precipitation, slight or moderate
42 = Precipitation, heavy
43 = Liquid precipitation, slight or moderate
44 = Liquid precipitation, heavy
45 = Solid precipitation, slight or moderate
46 = Solid precipitation, heavy
47 = Freezing precipitation, slight or moderate
48 = Freezing precipitation, heavy
50 = Drizzle
51 = Drizzle, not freezing, slight
52 = Drizzle, not freezing, moderate
53 = Drizzle, not freezing, heavy
54 = Drizzle, freezing, slight
55 = Drizzle, freezing, moderate
56 = Drizzle, freezing, heavy
57 = Drizzle and rain, slight
58 = Drizzle and rain, moderate or heavy
60 = Rain
61 = Rain, not freezing, slight
62 = Rain, not freezing, moderate
63 = Rain, not freezing, heavy
64 = Rain, freezing, slight
65 = Rain, freezing, moderate
66 = Rain, freezing, heavy
67 = Rain or drizzle and snow, slight
68 = Rain or drizzle and snow, moderate or heavy
70 = Snow
71 = Snow, slight
72 = Snow, moderate
73 = Snow, heavy
74 = Ice pellets, slight
75 = Ice pellets, moderate
76 = Ice pellets, heavy
77 = Snow grains
78 = Ice crystals
80 = Showers or intermittent precipitation
81 = Rain showers or intermittent rain, slight
82 = Rain showers or intermittent rain, moderate
83 = Rain showers or intermittent rain, heavy
    84 = Rain showers or intermittent rain, violent
    85 = Snow showers or intermittent snow, slight
    86 = Snow showers or intermittent snow, moderate
    87 = Snow showers or intermittent snow, heavy
    89 = Hail
    90 = Thunderstorm
    91 = Thunderstorm, slight or moderate, with no precipitation
    92 = Thunderstorm, slight or moderate, with rain showers and/or snow showers
    93 = Thunderstorm, slight or moderate, with hail
    94 = Thunderstorm, heavy, with no precipitation
    95 = Thunderstorm, heavy, with rain showers and/or snow
    96 = Thunderstorm, heavy, with hail
    99 = Tornado
"""

DOC_AU = {
    "intensity": """0 = Not Reported
    1 = Light (-)
    2 = Moderate or Not Reported (no entry in original observation)
    3 = Heavy (+)
    4 = Vicinity (VC)
    9 = Missing""",
    "descriptor": """0 = No Descriptor
    1 = Shallow (MI)
    2 = Partial (PR)
    3 = Patches (BC)
    4 = Low Drifting (DR)
    5 = Blowing (BL)
    6 = Shower(s) (SH)
    7 = Thunderstorm (TS)
    8 = Freezing (FZ)
    9 = Missing""",
    "precipitation": """00 = No Precipitation
    01 = Drizzle (DZ)
    02 = Rain (RA)
    03 = Snow (SN)
    04 = Snow Grains (SG)
    05 = Ice Crystals (IC)
    06 = Ice Pellets (PL)
    07 = Hail (GR)
    08 = Small Hail and/or Snow Pellets (GS)
    09 = Unknown Precipitation (UP)
    99 = Missing""",
    "obscuration": """0 = No Obscuration
    1 = Mist (BR)
    2 = Fog (FG)
    3 = Smoke (FU)
    4 = Volcanic Ash (VA)
    5 = Widespread Dust (DU)
    6 = Sand (SA)
    7 = Haze (HZ)
    8 = Spray (PY)
    9 = Missing""",
    "other": """0 = None Reported
    1 = Well-Developed Dust/Sand Whirls (PO)
    2 = Squalls (SQ)
    3 = Funnel Cloud, Tornado, Waterspout (FC)
    4 = Sandstorm (SS)
    5 = Duststorm (DS)
    9 = Missing""",
    "combination": """1 = Not part of combined weather elements
    2 = Beginning element of combined weather elements
    3 = Combined with previous weather element to form a single weather report
    9 = Missing""",
}

# A sample of the MW table (Part 28), including the codes whose words differ most from the old WMO wording.
DOC_MW = """
    05 = Haze
    10 = Mist
    40 = Fog or ice fog at a distance at the time of observation, but not at the station during the preceding
    hour, the fog or ice fog extending to a level above that of the observer
    55 = Drizzle, not freezing, continuous, heavy (dense) at time of observation
    70 = Intermittent fall of snowflakes, slight at time of observation
    71 = Continuous fall of snowflakes, slight at time of observation
    87 = Shower(s) of snow pellets or small hail, with or without rain or rain and snow mixed, slight
    98 = Thunderstorm combined with duststorm or sandstorm at time of observation, thunderstorm at time of
    observation
"""

PRECEDING_HOUR = ", at the station during the preceding hour, but not at the time of observation"


def doc_table(text: str) -> dict[str, str]:
    """'NN = words' entries (continuation lines joined) -> {code: words}, the document's 'Missing' left out."""
    entries: dict[str, str] = {}
    code = None
    for raw in text.strip().splitlines():
        line = raw.strip()
        m = re.match(r"^(\d{1,2}) = (.*)$", line)
        if m:
            code = m.group(1)
            entries[code] = m.group(2)
        elif code is not None:
            entries[code] += " " + line
    return {c: w for c, w in entries.items() if w != "Missing"}


def corrected(table: str, code: str, words: str) -> str:
    for t, c, wrong, right in weather.DOCUMENT_CORRECTIONS:
        if (t, c) == (table, code):
            words = words.replace(wrong, right)
    return words


def weather_groups(*groups: str) -> object:
    return decode_line(isd_line("ADD" + "".join(groups)))


def test_aw_table_is_the_documents_own() -> None:
    doc = doc_table(DOC_AW)
    assert set(weather.AUTOMATED_WEATHER) == set(doc)
    for code, words in doc.items():
        expected = corrected("AW", code, words) + (PRECEDING_HOUR if "20" <= code <= "26" else "")
        assert weather.AUTOMATED_WEATHER[code] == expected, code


def test_aw_05_is_smoke_not_the_wmo_4680_wording() -> None:
    entry = weather_groups("AW1051").groups["AW1"]
    assert (entry["code"], entry["present_weather_condition"]) == ("05", "Smoke")
    assert "less than 1 km" not in entry["present_weather_condition"]


def test_aw_07_is_defined_and_06_08_09_are_not() -> None:
    r = weather_groups("AW1071", "AW2061", "AW3081", "AW4091")
    assert r.groups["AW1"]["present_weather_condition"].startswith("Dust or sand raised by wind")
    for ident, code in (("AW2", "06"), ("AW3", "08"), ("AW4", "09")):
        words = r.groups[ident]["present_weather_condition"]
        assert words == f"Code {code} not defined in {weather.AUTOMATED_WEATHER_TABLE}"
        assert r.groups[ident]["code"] == code


def test_aw_preceding_hour_codes_say_so() -> None:
    r = weather_groups("AW1231", "AW2271")
    assert r.groups["AW1"]["present_weather_condition"] == "Rain (not freezing)" + PRECEDING_HOUR
    assert r.groups["AW2"]["present_weather_condition"] == "Blowing or drifting snow or sand"


def test_mw_table_covers_every_code_and_matches_the_document() -> None:
    assert sorted(weather.MANUAL_WEATHER) == [f"{n:02d}" for n in range(100)]
    for code, words in doc_table(DOC_MW).items():
        assert weather.MANUAL_WEATHER[code] == words, code
    assert weather.MANUAL_WEATHER["28"] == "Fog or ice fog" + PRECEDING_HOUR
    assert weather.MANUAL_WEATHER["85"] == "Snow shower(s), slight"  # the document's "Show shower(s)" corrected


def test_mw_group_words_and_code_side_by_side() -> None:
    entry = weather_groups("MW1051").groups["MW1"]
    assert dict(entry) == {"present_weather_condition": "Haze", "code": "05", "source": "manual", "quality": "1"}


@pytest.mark.parametrize("component", list(DOC_AU))
def test_au_tables_are_the_documents_own(component: str) -> None:
    table = getattr(weather, f"AU_{component.upper()}")
    assert table == doc_table(DOC_AU[component])


def test_au_group_keeps_codes_beside_the_document_words() -> None:
    # intensity 3, descriptor 3, precipitation 03, obscuration 0, other 0, combination 1, quality 5
    entry = weather_groups("AU133030015").groups["AU1"]
    assert (entry["intensity"], entry["intensity_code"]) == ("Heavy (+)", "3")
    assert (entry["descriptor"], entry["descriptor_code"]) == ("Patches (BC)", "3")
    assert (entry["precipitation"], entry["precipitation_code"]) == ("Snow (SN)", "03")
    assert (entry["other"], entry["combination"]) == ("None Reported", "Not part of combined weather elements")


def test_every_table_names_the_document_table_it_follows() -> None:
    for name in ("MANUAL_WEATHER_TABLE", "AUTOMATED_WEATHER_TABLE", "AU_TABLE"):
        assert getattr(weather, name).startswith("ISD format document")
    assert "Part 28" in weather.MANUAL_WEATHER_TABLE and "Part 5" in weather.AUTOMATED_WEATHER_TABLE


def test_ga_base_height_quality_is_its_own_field() -> None:
    record = weather_groups("GA1999+002131999")
    group = record.groups["GA1"]
    assert (group["coverage_quality"], group["base_height_quality"], group["cloud_type_quality"]) == ("9", "1", "9")
    entry = record.message_lists[3][0]
    assert (entry["quality"], entry["base_height_quality"], entry["base_height"]) == ("9", "1", 213)


@pytest.mark.parametrize(("code", "kind", "estimated"), [("N", "min", False), ("M", "max", False),
                                                         ("O", "min", True), ("P", "max", True),
                                                         ("9", None, None)])
def test_ka_keeps_the_raw_code(code: str, kind: str | None, estimated: bool | None) -> None:
    record = weather_groups(f"KA1120{code}-00441")
    entry = record.message_lists[4][0]
    assert entry["code"] == (None if code == "9" else code)
    assert (entry["kind"], entry["estimated"], entry["value"]) == (kind, estimated, -4.4)


def test_message_carries_the_new_fields_and_validates() -> None:
    from datetime import datetime, timezone

    from station.message import WeatherMessage

    record = weather_groups("AW1051", "GA1999+002131999", "KA1120P+02501")
    message = build_message(record, thing_name="t", seq=1, sent_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    WeatherMessage.model_validate(message)
    assert message["weather_condition"][0]["present_weather_condition"] == "Smoke"
    assert message["sky_cover_condition"][0]["base_height_quality"] == "1"
    assert message["extreme_temperature"][0] == {"hours": 12.0, "kind": "max", "code": "P", "estimated": True,
                                                 "value": 25.0, "quality": "1"}
