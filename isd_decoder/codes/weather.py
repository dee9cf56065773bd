"""Present-weather code tables, worded as the ISD format document words them (not the WMO manuals).

Source: NOAA NCEI, "Federal Climate Complex Data Documentation for Integrated Surface Data (ISD)"
(isd-format-document.pdf, https://www.ncei.noaa.gov/pub/data/noaa/isd-format-document.pdf):

- MW1-MW7: Part 28, "PRESENT-WEATHER-OBSERVATION manual atmospheric condition code" (pages 95-97).
- AW1-AW4: Part 5, "PRESENT-WEATHER-OBSERVATION automated atmospheric condition code" (pages 30-31).
  This table is NCEI's own and differs from WMO code table 4680: 05 is "Smoke" (WMO: haze, smoke or dust with
  visibility below 1 km), 07 is defined, 06/08/09 are not.
- AU1-AU9: Part 5, "PRESENT-WEATHER-OBSERVATION" intensity and proximity, descriptor, precipitation,
  obscuration, other weather phenomena and combination indicator codes (pages 29-30).

Texts are the document's, with only its evident typing slips corrected (each listed in `DOCUMENT_CORRECTIONS`).
Where the document heads a run of codes with a qualifying sentence (MW 20-29, AW 20-26: "at the station during
the preceding hour, but not at the time of observation"), the qualifier is appended to each code's words so
that a word read alone keeps the document's meaning. Missing codes ('99', '9') are absent on purpose.
"""

from __future__ import annotations

# Name of each table, as the document titles it; decoders quote it for codes the table does not define.
MANUAL_WEATHER_TABLE = "ISD format document, MW manual atmospheric condition code (Part 28)"
AUTOMATED_WEATHER_TABLE = "ISD format document, AW automated atmospheric condition code (Part 5)"
AU_TABLE = "ISD format document, AU present weather components (Part 5)"

_PRECEDING_HOUR = "at the station during the preceding hour, but not at the time of observation"

# Slips in the document's text that are corrected here: (table, code, document text, text used).
DOCUMENT_CORRECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("AW", "07", "well-developed dust irl(s) whirls(s)", "well-developed dust whirl(s)"),
    ("MW", "07", "dust whirl(s) sand whirl(s)", "dust whirl(s) or sand whirl(s)"),
    ("MW", "85", "Show shower(s), slight", "Snow shower(s), slight"),
)

# MW1-MW7 (Part 28). Codes 00-19: "No precipitation, fog, ice fog (except for 11 and 12), duststorm, sandstorm,
# drifting or blowing snow at the station at the time of observation or, except for 09 and 17, during the
# preceding hour."
_MW_PAST_HOUR = {
    "20": "Drizzle (not freezing) or snow grains not falling as shower(s)",
    "21": "Rain (not freezing) not falling as shower(s)",
    "22": "Snow not falling as shower(s)",
    "23": "Rain and snow or ice pellets not falling as shower(s)",
    "24": "Freezing drizzle or freezing rain not falling as shower(s)",
    "25": "Shower(s) of rain",
    "26": "Shower(s) of snow or of rain and snow",
    "27": "Shower(s) of hail (Hail, small hail, snow pellets), or rain and hail",
    "28": "Fog or ice fog",
    "29": "Thunderstorm (with or without precipitation)",
}
MANUAL_WEATHER: dict[str, str] = {
    "00": "Cloud development not observed or not observable",
    "01": "Clouds generally dissolving or becoming less developed",
    "02": "State of sky on the whole unchanged",
    "03": "Clouds generally forming or developing",
    "04": "Visibility reduced by smoke, e.g. veldt or forest fires, industrial smoke or volcanic ashes",
    "05": "Haze",
    "06": "Widespread dust in suspension in the air, not raised by wind at or near the station at the time of "
    "observation",
    "07": "Dust or sand raised by wind at or near the station at the time of observation, but no well-developed "
    "dust whirl(s) or sand whirl(s), and no duststorm or sandstorm seen or, in the case of ships, blowing spray "
    "at the station",
    "08": "Well developed dust whirl(s) or sand whirl(s) seen at or near the station during the preceding hour or "
    "at the time of observation, but no duststorm or sandstorm",
    "09": "Duststorm or sandstorm within sight at the time of observation, or at the station during the preceding "
    "hour",
    "10": "Mist",
    "11": "Patches of shallow fog or ice fog at the station, whether on land or sea, not deeper than about 2 "
    "meters on land or 10 meters at sea",
    "12": "More or less continuous shallow fog or ice fog at the station, whether on land or sea, not deeper than "
    "about 2 meters on land or 10 meters at sea",
    "13": "Lightning visible, no thunder heard",
    "14": "Precipitation within sight, not reaching the ground or the surface of the sea",
    "15": "Precipitation within sight, reaching the ground or the surface of the sea, but distant, i.e., "
    "estimated to be more than 5 km from the station",
    "16": "Precipitation within sight, reaching the ground or the surface of the sea, near to, but not at the "
    "station",
    "17": "Thunderstorm, but no precipitation at the time of observation",
    "18": "Squalls at or within sight of the station during the preceding hour or at the time of observation",
    "19": "Funnel cloud(s) (Tornado cloud or waterspout) at or within sight of the station during the preceding "
    "hour or at the time of observation",
    **{code: f"{words}, {_PRECEDING_HOUR}" for code, words in _MW_PAST_HOUR.items()},
    "30": "Slight or moderate duststorm or sandstorm has decreased during the preceding hour",
    "31": "Slight or moderate duststorm or sandstorm no appreciable change during the preceding hour",
    "32": "Slight or moderate duststorm or sandstorm has begun or has increased during the preceding hour",
    "33": "Severe duststorm or sandstorm has decreased during the preceding hour",
    "34": "Severe duststorm or sandstorm no appreciable change during the preceding hour",
    "35": "Severe duststorm or sandstorm has begun or has increased during the preceding hour",
    "36": "Slight or moderate drifting snow generally low (below eye level)",
    "37": "Heavy drifting snow generally low (below eye level)",
    "38": "Slight or moderate blowing snow generally high (above eye level)",
    "39": "Heavy blowing snow generally high (above eye level)",
    "40": "Fog or ice fog at a distance at the time of observation, but not at the station during the preceding "
    "hour, the fog or ice fog extending to a level above that of the observer",
    "41": "Fog or ice fog in patches",
    "42": "Fog or ice fog, sky visible, has become thinner during the preceding hour",
    "43": "Fog or ice fog, sky invisible, has become thinner during the preceding hour",
    "44": "Fog or ice fog, sky visible, no appreciable change during the preceding hour",
    "45": "Fog or ice fog, sky invisible, no appreciable change during the preceding hour",
    "46": "Fog or ice fog, sky visible, has begun or has become thicker during the preceding hour",
    "47": "Fog or ice fog, sky invisible, has begun or has become thicker during the preceding hour",
    "48": "Fog, depositing rime, sky visible",
    "49": "Fog, depositing rime, sky invisible",
    "50": "Drizzle, not freezing, intermittent, slight at time of observation",
    "51": "Drizzle, not freezing, continuous, slight at time of observation",
    "52": "Drizzle, not freezing, intermittent, moderate at time of observation",
    "53": "Drizzle, not freezing, continuous, moderate at time of observation",
    "54": "Drizzle, not freezing, intermittent, heavy (dense) at time of observation",
    "55": "Drizzle, not freezing, continuous, heavy (dense) at time of observation",
    "56": "Drizzle, freezing, slight",
    "57": "Drizzle, freezing, moderate or heavy (dense)",
    "58": "Drizzle and rain, slight",
    "59": "Drizzle and rain, moderate or heavy",
    "60": "Rain, not freezing, intermittent, slight at time of observation",
    "61": "Rain, not freezing, continuous, slight at time of observation",
    "62": "Rain, not freezing, intermittent, moderate at time of observation",
    "63": "Rain, not freezing, continuous, moderate at time of observation",
    "64": "Rain, not freezing, intermittent, heavy at time of observation",
    "65": "Rain, not freezing, continuous, heavy at time of observation",
    "66": "Rain, freezing, slight",
    "67": "Rain, freezing, moderate or heavy",
    "68": "Rain or drizzle and snow, slight",
    "69": "Rain or drizzle and snow, moderate or heavy",
    "70": "Intermittent fall of snowflakes, slight at time of observation",
    "71": "Continuous fall of snowflakes, slight at time of observation",
    "72": "Intermittent fall of snowflakes, moderate at time of observation",
    "73": "Continuous fall of snowflakes, moderate at time of observation",
    "74": "Intermittent fall of snowflakes, heavy at time of observation",
    "75": "Continuous fall of snowflakes, heavy at time of observation",
    "76": "Diamond dust (with or without fog)",
    "77": "Snow grains (with or without fog)",
    "78": "Isolated star-like snow crystals (with or without fog)",
    "79": "Ice pellets",
    "80": "Rain shower(s), slight",
    "81": "Rain shower(s), moderate or heavy",
    "82": "Rain shower(s), violent",
    "83": "Shower(s) of rain and snow mixed, slight",
    "84": "Shower(s) of rain and snow mixed, moderate or heavy",
    "85": "Snow shower(s), slight",
    "86": "Snow shower(s), moderate or heavy",
    "87": "Shower(s) of snow pellets or small hail, with or without rain or rain and snow mixed, slight",
    "88": "Shower(s) of snow pellets or small hail, with or without rain or rain and snow mixed, moderate or heavy",
    "89": "Shower(s) of hail (hail, small hail, snow pellets), with or without rain or rain and snow mixed, not "
    "associated with thunder, slight",
    "90": "Shower(s) of hail (hail, small hail, snow pellets), with or without rain or rain and snow mixed, not "
    "associated with thunder, moderate or heavy",
    "91": "Slight rain at time of observation, thunderstorm during the preceding hour but not at time of "
    "observation",
    "92": "Moderate or heavy rain at time of observation, thunderstorm during the preceding hour but not at time "
    "of observation",
    "93": "Slight snow, or rain and snow mixed or hail (Hail, small hail, snow pellets), at time of observation, "
    "thunderstorm during the preceding hour but not at time of observation",
    "94": "Moderate or heavy snow, or rain and snow mixed or hail(Hail, small hail, snow pellets) at time of "
    "observation, thunderstorm during the preceding hour but not at time of observation",
    "95": "Thunderstorm, slight or moderate, without hail (Hail, small hail, snow pellets), but with rain and/or "
    "snow at time of observation, thunderstorm at time of observation",
    "96": "Thunderstorm, slight or moderate, with hail (hail, small hail, snow pellets) at time of observation, "
    "thunderstorm at time of observation",
    "97": "Thunderstorm, heavy, without hail (Hail, small hail, snow pellets), but with rain and/or snow at time "
    "of observation, thunderstorm at time of observation",
    "98": "Thunderstorm combined with duststorm or sandstorm at time of observation, thunderstorm at time of "
    "observation",
    "99": "Thunderstorm, heavy, with hail (Hail, small hail, snow pellets) at time of observation, thunderstorm at "
    "time of observation",
}

# AW1-AW4 (Part 5). "(Code figures 20-26 are used to report precipitation, fog, thunderstorm at the station
# during the preceding hour, but not at the time of observation.)"
_AW_PAST_HOUR = {
    "20": "Fog",
    "21": "Precipitation",
    "22": "Drizzle (not freezing) or snow grains",
    "23": "Rain (not freezing)",
    "24": "Snow",
    "25": "Freezing drizzle or freezing rain",
    "26": "Thunderstorm (with or without precipitation)",
}
AUTOMATED_WEATHER: dict[str, str] = {
    "00": "No significant weather observed",
    "01": "Clouds generally dissolving or becoming less developed",
    "02": "State of sky on the whole unchanged during the past hour",
    "03": "Clouds generally forming or developing during the past hour",
    "04": "Haze, smoke, or dust in suspension in the air, visibility equal to or greater than 1km",
    "05": "Smoke",
    "07": "Dust or sand raised by wind at or near the station at the time of observation, but no well-developed "
    "dust whirl(s) or sand whirl(s), and no duststorm or sandstorm seen or, in the case of ships, blowing spray "
    "at the station",
    "10": "Mist",
    "11": "Diamond dust",
    "12": "Distant lightning",
    "18": "Squalls",
    **{code: f"{words}, {_PRECEDING_HOUR}" for code, words in _AW_PAST_HOUR.items()},
    "27": "Blowing or drifting snow or sand",
    "28": "Blowing or drifting snow or sand, visibility equal to or greater than 1 km",
    "29": "Blowing or drifting snow or sand, visibility less than 1 km",
    "30": "Fog",
    "31": "Fog or ice fog in patches",
    "32": "Fog or ice fog, has become thinner during the past hour",
    "33": "Fog or ice fog, no appreciable change during the past hour",
    "34": "Fog or ice fog, has begun or become thicker during the past hour",
    "35": "Fog, depositing rime",
    "40": "Precipitation",
    "41": "Precipitation, slight or moderate",
    "42": "Precipitation, heavy",
    "43": "Liquid precipitation, slight or moderate",
    "44": "Liquid precipitation, heavy",
    "45": "Solid precipitation, slight or moderate",
    "46": "Solid precipitation, heavy",
    "47": "Freezing precipitation, slight or moderate",
    "48": "Freezing precipitation, heavy",
    "50": "Drizzle",
    "51": "Drizzle, not freezing, slight",
    "52": "Drizzle, not freezing, moderate",
    "53": "Drizzle, not freezing, heavy",
    "54": "Drizzle, freezing, slight",
    "55": "Drizzle, freezing, moderate",
    "56": "Drizzle, freezing, heavy",
    "57": "Drizzle and rain, slight",
    "58": "Drizzle and rain, moderate or heavy",
    "60": "Rain",
    "61": "Rain, not freezing, slight",
    "62": "Rain, not freezing, moderate",
    "63": "Rain, not freezing, heavy",
    "64": "Rain, freezing, slight",
    "65": "Rain, freezing, moderate",
    "66": "Rain, freezing, heavy",
    "67": "Rain or drizzle and snow, slight",
    "68": "Rain or drizzle and snow, moderate or heavy",
    "70": "Snow",
    "71": "Snow, slight",
    "72": "Snow, moderate",
    "73": "Snow, heavy",
    "74": "Ice pellets, slight",
    "75": "Ice pellets, moderate",
    "76": "Ice pellets, heavy",
    "77": "Snow grains",
    "78": "Ice crystals",
    "80": "Showers or intermittent precipitation",
    "81": "Rain showers or intermittent rain, slight",
    "82": "Rain showers or intermittent rain, moderate",
    "83": "Rain showers or intermittent rain, heavy",
    "84": "Rain showers or intermittent rain, violent",
    "85": "Snow showers or intermittent snow, slight",
    "86": "Snow showers or intermittent snow, moderate",
    "87": "Snow showers or intermittent snow, heavy",
    "89": "Hail",
    "90": "Thunderstorm",
    "91": "Thunderstorm, slight or moderate, with no precipitation",
    "92": "Thunderstorm, slight or moderate, with rain showers and/or snow showers",
    "93": "Thunderstorm, slight or moderate, with hail",
    "94": "Thunderstorm, heavy, with no precipitation",
    "95": "Thunderstorm, heavy, with rain showers and/or snow",
    "96": "Thunderstorm, heavy, with hail",
    "99": "Tornado",
}

# AU1-AU9 (Part 5): the METAR abbreviation the document gives is part of the words, e.g. "Light (-)".
AU_INTENSITY: dict[str, str] = {
    "0": "Not Reported",
    "1": "Light (-)",
    "2": "Moderate or Not Reported (no entry in original observation)",
    "3": "Heavy (+)",
    "4": "Vicinity (VC)",
}
AU_DESCRIPTOR: dict[str, str] = {
    "0": "No Descriptor",
    "1": "Shallow (MI)",
    "2": "Partial (PR)",
    "3": "Patches (BC)",
    "4": "Low Drifting (DR)",
    "5": "Blowing (BL)",
    "6": "Shower(s) (SH)",
    "7": "Thunderstorm (TS)",
    "8": "Freezing (FZ)",
}
AU_PRECIPITATION: dict[str, str] = {
    "00": "No Precipitation",
    "01": "Drizzle (DZ)",
    "02": "Rain (RA)",
    "03": "Snow (SN)",
    "04": "Snow Grains (SG)",
    "05": "Ice Crystals (IC)",
    "06": "Ice Pellets (PL)",
    "07": "Hail (GR)",
    "08": "Small Hail and/or Snow Pellets (GS)",
    "09": "Unknown Precipitation (UP)",
}
AU_OBSCURATION: dict[str, str] = {
    "0": "No Obscuration",
    "1": "Mist (BR)",
    "2": "Fog (FG)",
    "3": "Smoke (FU)",
    "4": "Volcanic Ash (VA)",
    "5": "Widespread Dust (DU)",
    "6": "Sand (SA)",
    "7": "Haze (HZ)",
    "8": "Spray (PY)",
}
AU_OTHER: dict[str, str] = {
    "0": "None Reported",
    "1": "Well-Developed Dust/Sand Whirls (PO)",
    "2": "Squalls (SQ)",
    "3": "Funnel Cloud, Tornado, Waterspout (FC)",
    "4": "Sandstorm (SS)",
    "5": "Duststorm (DS)",
}
AU_COMBINATION: dict[str, str] = {
    "1": "Not part of combined weather elements",
    "2": "Beginning element of combined weather elements",
    "3": "Combined with previous weather element to form a single weather report",
}
