"""Length of every additional-data group of the ISD format document (DS3505), identifier excluded.

The additional-data section is a run of groups, each a 3-character identifier followed by a fixed number of
characters; nothing else marks where a group ends, so this table is what makes walking the section exact.
"""

from __future__ import annotations


def _series(prefix: str, first: int, last: int, length: int) -> dict[str, int]:
    return {f"{prefix}{n}": length for n in range(first, last + 1)}


GROUP_LENGTHS: dict[str, int] = {
    # Precipitation
    **_series("AA", 1, 4, 8),  # liquid precipitation occurrence
    "AB1": 7,  # liquid precipitation, monthly total
    "AC1": 3,  # precipitation observation history
    "AD1": 19,  # liquid precipitation, greatest amount in 24 hours, for the month
    "AE1": 12,  # liquid precipitation, number of days with specific amounts, for the month
    "AG1": 4,  # precipitation estimated observation
    **_series("AH", 1, 6, 15),  # liquid precipitation maximum short duration, for the month
    **_series("AI", 1, 6, 15),  # liquid precipitation maximum short duration, for the month
    "AJ1": 14,  # snow depth
    "AK1": 12,  # snow depth greatest on the ground, for the month
    **_series("AL", 1, 4, 7),  # snow accumulation
    "AM1": 18,  # snow accumulation greatest amount in 24 hours, for the month
    "AN1": 9,  # snow accumulation for the month
    **_series("AO", 1, 4, 8),  # liquid precipitation (minutes)
    **_series("AP", 1, 4, 6),  # 15-minute liquid precipitation (HPD gauge)
    # Weather occurrence
    **_series("AT", 1, 8, 9),  # daily present weather observation
    **_series("AU", 1, 9, 8),  # present weather observation, METAR components
    **_series("AW", 1, 4, 3),  # present weather observation, automated
    **_series("AX", 1, 6, 6),  # past weather observation, summary of day
    **_series("AY", 1, 2, 5),  # past weather observation, manual
    **_series("AZ", 1, 2, 5),  # past weather observation, automated
    # Climate reference network and related networks
    **_series("CB", 1, 2, 10),  # subhourly observed liquid precipitation, secondary sensor
    **_series("CF", 1, 3, 6),  # hourly fan speed
    **_series("CG", 1, 3, 8),  # subhourly observed liquid precipitation, primary sensor
    **_series("CH", 1, 2, 15),  # hourly/subhourly relative humidity and temperature
    "CI1": 28,  # hourly relative humidity and temperature
    "CN1": 18,  # hourly battery voltage
    "CN2": 18,  # hourly diagnostic
    "CN3": 16,  # secondary hourly diagnostic
    "CN4": 19,  # secondary hourly diagnostic
    "CO1": 5,  # network metadata
    **_series("CO", 2, 9, 8),  # US cooperative network element time offset
    "CR1": 7,  # control section (datalogger version)
    **_series("CT", 1, 3, 7),  # subhourly temperature
    **_series("CU", 1, 3, 13),  # hourly temperature
    **_series("CV", 1, 3, 26),  # hourly temperature extreme
    "CW1": 14,  # subhourly wetness
    **_series("CX", 1, 3, 26),  # hourly Geonor vibrating wire summary
    # Runway visual range
    "ED1": 8,
    # Sky cover and solar
    **_series("GA", 1, 6, 13),  # sky cover layer
    **_series("GD", 1, 6, 12),  # sky cover summation state
    "GE1": 19,  # sky condition
    "GF1": 23,  # sky condition observation
    **_series("GG", 1, 6, 15),  # below station cloud layer
    "GH1": 28,  # hourly solar radiation
    "GJ1": 5,  # sunshine observation
    "GK1": 4,  # sunshine observation, percent
    "GL1": 6,  # sunshine observation for the month
    "GM1": 30,  # solar irradiance
    "GN1": 28,  # solar radiation
    "GO1": 19,  # net solar radiation
    "GP1": 31,  # modeled solar irradiance
    "GQ1": 14,  # hourly solar angle
    "GR1": 14,  # hourly extraterrestrial radiation
    # Hail, ground surface
    "HL1": 4,
    "IA1": 3,
    "IA2": 9,
    "IB1": 27,
    "IB2": 13,
    "IC1": 25,
    # Temperature
    **_series("KA", 1, 4, 10),  # extreme air temperature
    **_series("KB", 1, 3, 10),  # average air temperature
    **_series("KC", 1, 2, 14),  # extreme air temperature for the month
    **_series("KD", 1, 2, 9),  # heating/cooling degree days
    "KE1": 12,  # extreme temperatures, number of days exceeding criteria
    "KF1": 6,  # hourly calculated temperature
    **_series("KG", 1, 2, 11),  # average dew point and wet bulb temperature
    # Pressure
    "MA1": 12,  # atmospheric pressure (altimeter, station pressure)
    "MD1": 11,  # atmospheric pressure change
    "ME1": 6,  # geopotential height isobaric level
    "MF1": 12,  # atmospheric pressure, station and sea level (day)
    "MG1": 12,  # atmospheric pressure, station (day)
    "MH1": 12,  # atmospheric pressure for the month
    "MK1": 24,  # atmospheric pressure, extremes for the month
    # Present weather
    **_series("MV", 1, 7, 3),  # present weather in vicinity
    **_series("MW", 1, 7, 3),  # present weather, manual
    # Wind
    **_series("OA", 1, 3, 8),  # supplementary wind
    **_series("OB", 1, 2, 28),  # hourly/subhourly wind section
    "OC1": 5,  # wind gust
    **_series("OD", 1, 3, 11),  # supplementary wind
    **_series("OE", 1, 3, 16),  # summary of day wind
    # Relative humidity
    **_series("RH", 1, 3, 9),
    # Sea surface, soil, waves, ice, water level
    "SA1": 5,
    "ST1": 17,
    "UA1": 10,
    "UG1": 9,
    "UG2": 9,
    "WA1": 6,
    "WD1": 20,
    "WG1": 11,
    "WJ1": 19,
}
