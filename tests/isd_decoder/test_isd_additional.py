"""Additional-data section: every decoded group, skipping by length, unknown identifiers, REM/EQD/QNN order."""

from __future__ import annotations

from itertools import permutations

import pytest

from isd_decoder import GROUP_LENGTHS, IsdLineError, decode_line
from tests.support.isd_lines import isd_line, remark


def add(*groups: str, tail: str = "") -> object:
    return decode_line(isd_line("ADD" + "".join(groups) + tail))


def test_liquid_precipitation() -> None:
    r = add("AA101000095", "AA206000221", "AA324015331", "AA499999999")
    assert dict(r.groups["AA1"]) == {"hours": 1, "depth": 0.0, "condition": None, "quality": "5"}
    assert dict(r.groups["AA2"]) == {"hours": 6, "depth": 0.2, "condition": "2", "quality": "1"}
    assert dict(r.groups["AA3"]) == {"hours": 24, "depth": 15.3, "condition": "3", "quality": "1"}
    assert dict(r.groups["AA4"]) == {"hours": None, "depth": None, "condition": None, "quality": "9"}
    assert [e["hours"] for e in r.message_lists[0]] == [1, 6, 24, None]


def test_weather_occurrence_components() -> None:
    r = add("AU116021015", "AU299999999", "AU340002025")
    light_rain_showers = dict(r.groups["AU1"])
    assert light_rain_showers == {
        "intensity": "Light (-)", "intensity_code": "1",
        "descriptor": "Shower(s) (SH)", "descriptor_code": "6",
        "precipitation": "Rain (RA)", "precipitation_code": "02",
        "obscuration": "Mist (BR)", "obscuration_code": "1",
        "other": "None Reported", "other_code": "0",
        "combination": "Not part of combined weather elements", "combination_code": "1",
        "quality": "5",
    }
    missing = dict(r.groups["AU2"])
    assert all(missing[k] is None for k in missing if k != "quality")
    vicinity_fog = r.groups["AU3"]
    assert (vicinity_fog["intensity"], vicinity_fog["obscuration"], vicinity_fog["combination_code"]) == (
        "Vicinity (VC)", "Fog (FG)", "2"
    )


def test_automated_and_manual_present_weather() -> None:
    r = add("AW1711", "AW2101", "MW1021", "MW2715", "MW3991")
    assert dict(r.groups["AW1"]) == {
        "present_weather_condition": "Snow, slight", "code": "71", "source": "automated", "quality": "1"
    }
    assert r.groups["AW2"]["present_weather_condition"] == "Mist"
    assert r.groups["MW1"]["present_weather_condition"] == "State of sky on the whole unchanged"
    assert r.groups["MW1"]["source"] == "manual"
    assert r.groups["MW2"]["present_weather_condition"] == (
        "Continuous fall of snowflakes, slight at time of observation")
    assert r.groups["MW3"]["present_weather_condition"] == (
        "Thunderstorm, heavy, with hail (Hail, small hail, snow pellets) at time of observation, thunderstorm at "
        "time of observation")
    assert [e["code"] for e in r.message_lists[1]] == ["71", "10", "02", "71", "99"]


def test_automated_reserved_code_keeps_the_code() -> None:
    entry = add("AW1081").groups["AW1"]
    assert entry["code"] == "08" and "08" in entry["present_weather_condition"]


def test_sky_cover_layers_all_six() -> None:
    r = add(
        "GA1001+000001001", "GA2021+004501061", "GA3041+009001081", "GA4071+015001031", "GA5081+024001991",
        "GA6091+999999999",
    )
    assert len(r.message_lists[3]) == 6
    layer = dict(r.groups["GA2"])
    assert layer["coverage"] == 2 and layer["coverage_fraction"] == 0.25 and layer["coverage_code"] == "02"
    assert layer["base_height"] == 450
    assert (layer["cloud_type_code"], layer["cloud_type"]) == ("06", "Stratocumulus")  # not off by one
    assert (r.groups["GA1"]["coverage"], r.groups["GA1"]["cloud_type"]) == (0, "Cirrus")
    assert r.groups["GA3"]["cloud_type"] == "Cumulus"
    assert r.groups["GA5"]["cloud_type"] is None and r.groups["GA5"]["coverage"] == 8
    obscured = r.groups["GA6"]
    assert obscured["coverage"] is None and obscured["coverage_code"] == "09"
    assert obscured["base_height"] is None and obscured["cloud_type_code"] is None
    assert r.message_lists[3][1] == {
        "coverage": 2, "coverage_fraction": 0.25, "coverage_code": "02", "base_height": 450,
        "cloud_type": "Stratocumulus", "cloud_type_code": "06", "quality": "1", "base_height_quality": "1",
        "cloud_type_quality": "1",
    }


def test_sky_cover_summation_and_condition() -> None:
    gf1 = "08" + "07" + "1" + "06" + "1" + "07" + "1" + "00450" + "1" + "03" + "1" + "99" + "9"
    r = add("GD13991+0033519", "GD24081+0073214", "GF1" + gf1)
    gd1 = r.groups["GD1"]
    assert (gd1["coverage_code"], gd1["coverage"], gd1["coverage_code_2"], gd1["height"]) == ("3", "Broken", None, 335)
    assert gd1["characteristic"] is None
    assert r.groups["GD2"]["coverage_oktas"] == 8 and r.groups["GD2"]["characteristic"] == "4"
    gf = r.groups["GF1"]
    assert (gf["total_coverage"], gf["opaque_coverage"], gf["lowest_cloud_coverage"]) == (8, 7, 6)
    assert (gf["low_cloud_genus"], gf["lowest_cloud_base_height"]) == ("Stratus", 450)
    assert (gf["mid_cloud_genus"], gf["high_cloud_genus"], gf["high_cloud_genus_code"]) == ("Altocumulus", None, None)


def test_extreme_temperature() -> None:
    r = add("KA1120N-00441", "KA2999M+00171", "KA3240M+99999", "KA4060N+01231")
    assert dict(r.groups["KA1"]) == {"hours": 12.0, "kind": "min", "code": "N", "estimated": False, "value": -4.4,
                                     "quality": "1"}
    assert (r.groups["KA2"]["hours"], r.groups["KA2"]["kind"], r.groups["KA2"]["value"]) == (None, "max", 1.7)
    assert r.groups["KA3"]["value"] is None
    assert r.message_lists[4][3] == {"hours": 6.0, "kind": "min", "code": "N", "estimated": False, "value": 12.3,
                                     "quality": "1"}


def test_pressure_and_gust() -> None:
    r = add("MA1100981099651", "OC101131")
    assert dict(r.groups["MA1"]) == {
        "altimeter": 1009.8, "altimeter_quality": "1", "station_pressure": 996.5, "station_pressure_quality": "1"
    }
    assert dict(add("MA1999999999999").groups["MA1"])["altimeter"] is None
    assert dict(r.groups["OC1"]) == {"speed": 11.3, "quality": "1"}


def test_other_known_groups_are_skipped_by_length() -> None:
    ge1 = "9AGL   +99999+99999"
    od1 = "11000001001"
    r = add("AY121061", "GE1" + ge1, "OD1" + od1, "ED1" + "18L09001", "MA1100981999999")
    assert r.skipped == {"AY1": "21061", "GE1": ge1, "OD1": od1, "ED1": "18L09001"}
    assert list(r.groups) == ["MA1"]
    assert r.unknown_identifier is None


def test_substring_lookalike_is_not_a_group() -> None:
    """'AT1AU18SN  5' holds 'AU1' as a substring; walking by length never sees it as a group."""
    r = add("AT1AU18SN  5", "MA1100981999999")
    assert r.skipped == {"AT1": "AU18SN  5"}
    assert "AU1" not in r.groups and r.message_lists[2] == []
    assert list(r.groups) == ["MA1"]


def test_unknown_identifier_stops_decoding_and_keeps_the_rest_raw() -> None:
    rem = remark("MET", "METAR XXXX")
    r = add("MA1100981999999", "ZZ9ABCDEF", "GA1001+000001001", tail="REM" + rem)
    assert r.unknown_identifier == "ZZ9"
    assert r.unparsed == "ZZ9ABCDEFGA1001+000001001REM" + rem
    assert list(r.groups) == ["MA1"]
    assert r.remarks == []


def test_group_running_past_the_line_end_is_an_error() -> None:
    with pytest.raises(IsdLineError) as info:
        add("MA110098")
    assert info.value.kind == "group-length" and "MA1" in str(info.value)


def test_digits_required_inside_decoded_groups() -> None:
    with pytest.raises(IsdLineError) as info:
        add("GA1021+00A501061")
    assert info.value.kind == "digits" and "GA1" in str(info.value)


def test_decoded_groups_are_read_only() -> None:
    r = add("MA1100981999999")
    with pytest.raises(TypeError):
        r.groups["MA1"]["altimeter"] = 0  # type: ignore[index]


SECTIONS = {
    "REM": "REM" + remark("SYN", "AAXX 01004 03091 EQD QNN 333") + remark("MET", "METAR EGPD REM=")
    ,
    "EQD": "EQD" + "Q01    003PRSWM1" + "N01 00000JPWTH 1",
    "QNN": "QNN" + "E11 1 00610" + "G11 1 00033",
}
EXPECTED = {
    "REM": [("SYN", "AAXX 01004 03091 EQD QNN 333"), ("MET", "METAR EGPD REM=")],
    "EQD": [("Q01", "    00", "3", "PRSWM1"), ("N01", " 00000", "J", "PWTH 1")],
    "QNN": [("E", "11 1", " 00610"), ("G", "11 1", " 00033")],
}


@pytest.mark.parametrize(
    "order",
    [order for size in (1, 2, 3) for order in permutations(SECTIONS, size)],
    ids=lambda order: "-".join(order),
)
@pytest.mark.parametrize("with_add", [True, False], ids=["ADD", "noADD"])
def test_rem_eqd_qnn_in_any_order(order: tuple[str, ...], with_add: bool) -> None:
    variable = ("ADDMA1100981999999" if with_add else "") + "".join(SECTIONS[s] for s in order)
    r = decode_line(isd_line(variable))
    assert r.remarks == (EXPECTED["REM"] if "REM" in order else [])
    assert r.eqd == (EXPECTED["EQD"] if "EQD" in order else [])
    assert r.qnn == (EXPECTED["QNN"] if "QNN" in order else [])
    assert ("MA1" in r.groups) is with_add


def test_remark_with_bad_length_is_an_error() -> None:
    with pytest.raises(IsdLineError) as info:
        decode_line(isd_line("REMMETx12METAR"))
    assert info.value.kind == "remark"


def test_unexpected_text_after_the_mandatory_section_is_an_error() -> None:
    with pytest.raises(IsdLineError) as info:
        decode_line(isd_line("XYZ123"))
    assert info.value.kind == "section"


def test_length_table_covers_the_document_series() -> None:
    expected_counts = {"AA": 4, "AU": 9, "AW": 4, "MW": 7, "GA": 6, "GD": 6, "KA": 4, "AT": 8, "AX": 6, "OD": 3}
    for prefix, count in expected_counts.items():
        assert sum(1 for ident in GROUP_LENGTHS if ident[:2] == prefix) == count, prefix
    assert GROUP_LENGTHS["GF1"] == 23 and GROUP_LENGTHS["GE1"] == 19 and GROUP_LENGTHS["MA1"] == 12
    assert all(len(ident) == 3 and length > 0 for ident, length in GROUP_LENGTHS.items())


def test_decoded_cache_is_bounded_and_results_do_not_depend_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from isd_decoder import additional

    monkeypatch.setattr(additional, "DECODED_CACHE_LIMIT", 2)
    additional.clear_decoded_cache()
    first = [add(f"GA1{c:02d}1+004501061").groups["GA1"]["coverage"] for c in range(9)]
    assert len(additional._DECODED) <= 2
    again = [add(f"GA1{c:02d}1+004501061").groups["GA1"]["coverage"] for c in range(9)]
    assert first == again == list(range(9))
