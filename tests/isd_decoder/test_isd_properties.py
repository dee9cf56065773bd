"""Property-based tests: random valid fields decode back to themselves; random damage only ever raises
the typed per-line error."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isd_decoder.codes import CLOUD_TYPES, MANUAL_WEATHER
from isd_decoder import GROUP_LENGTHS, IsdLineError, IsdRecord, decode_line, read_isd
from tests.support.isd_lines import REAL_FIRST_LINE, isd_line, remark

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUALITY = st.sampled_from("0123456789ACIMPRUE")
PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=0, max_size=40)


def optional(strategy: st.SearchStrategy[int]) -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), strategy)


def signed(value: int | None, digits: int) -> str:
    return "+" + "9" * digits if value is None else f"{value:+0{digits + 1}d}"


def unsigned(value: int | None, digits: int) -> str:
    return "9" * digits if value is None else f"{value:0{digits}d}"


@st.composite
def mandatory(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, object]]:
    """Random valid fields: (line fields, expected record attributes)."""
    day = draw(st.dates(date(1901, 1, 1), date(2099, 12, 31)))
    midnight_as_2400 = draw(st.booleans())
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    if midnight_as_2400:
        hhmm = "2400"
        when = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
    else:
        hhmm = f"{hour:02d}{minute:02d}"
        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)
    lat = draw(optional(st.integers(-90000, 90000)))
    lon = draw(optional(st.integers(-179999, 180000)))
    elevation = draw(optional(st.integers(-400, 8850)))
    wind_dir = draw(optional(st.integers(1, 360)))
    wind_speed = draw(optional(st.integers(0, 900)))
    ceiling = draw(optional(st.integers(0, 22000)))
    visibility = draw(optional(st.integers(0, 160000)))
    temp = draw(optional(st.integers(-932, 618)))
    dew = draw(optional(st.integers(-982, 368)))
    slp = draw(optional(st.integers(8600, 10900)))
    call = draw(st.one_of(st.none(), st.from_regex(r"[A-Z]{3,4}", fullmatch=True)))
    usaf = draw(st.from_regex(r"[0-9A-Z][0-9]{5}", fullmatch=True))
    wban = draw(st.from_regex(r"[0-9]{5}", fullmatch=True))
    q = [draw(QUALITY) for _ in range(8)]
    fields = {
        "usaf": usaf, "wban": wban, "date": day.strftime("%Y%m%d"), "time": hhmm,
        "latitude": signed(lat, 5), "longitude": signed(lon, 6), "elevation": signed(elevation, 4),
        "call_letters": "99999" if call is None else call.ljust(5),
        "wind_direction": unsigned(wind_dir, 3), "wind_direction_quality": q[0],
        "wind_speed": unsigned(wind_speed, 4), "wind_speed_quality": q[1],
        "ceiling": unsigned(ceiling, 5), "ceiling_quality": q[2],
        "visibility": unsigned(visibility, 6), "visibility_quality": q[3],
        "air_temperature": signed(temp, 4), "air_temperature_quality": q[4],
        "dew_point": signed(dew, 4), "dew_point_quality": q[5],
        "sea_level_pressure": unsigned(slp, 5), "sea_level_pressure_quality": q[6],
    }
    expected = {
        "station_id": f"{usaf}-{wban}", "time": when,
        "latitude": None if lat is None else lat / 1000, "longitude": None if lon is None else lon / 1000,
        "elevation": elevation, "call_letters": call,
        "wind_direction": wind_dir, "wind_direction_quality": q[0],
        "wind_speed": None if wind_speed is None else wind_speed / 10, "wind_speed_quality": q[1],
        "ceiling": ceiling, "ceiling_quality": q[2], "visibility": visibility, "visibility_quality": q[3],
        "air_temperature": None if temp is None else temp / 10, "air_temperature_quality": q[4],
        "dew_point": None if dew is None else dew / 10, "dew_point_quality": q[5],
        "sea_level_pressure": None if slp is None else slp / 10, "sea_level_pressure_quality": q[6],
    }
    return fields, expected


@SETTINGS
@given(mandatory())
def test_random_mandatory_fields_decode_back(case: tuple[dict[str, str], dict[str, object]]) -> None:
    fields, expected = case
    record = decode_line(isd_line(**fields).encode())
    assert {name: getattr(record, name) for name in expected} == expected
    assert record.time_iso == record.time.isoformat()


DECODED_KINDS = {"AA", "AU", "AW", "MW", "GA", "GD", "GF", "KA", "MA", "OC"}
SKIPPED_IDS = sorted(i for i in GROUP_LENGTHS if i[:2] not in DECODED_KINDS)


@st.composite
def additional(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """A random ADD section of skipped groups (random content) and decoded AA/GA/KA/MW groups, plus REM."""
    idents = draw(st.lists(st.sampled_from(SKIPPED_IDS), unique=True, max_size=8))
    skipped = {
        i: draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=GROUP_LENGTHS[i],
                        max_size=GROUP_LENGTHS[i]))
        for i in idents
    }
    decoded: dict[str, dict[str, object]] = {}
    text = []
    for i in idents:
        text.append(i + skipped[i])
    for n in range(1, draw(st.integers(0, 4)) + 1):
        hours, depth = draw(optional(st.integers(0, 98))), draw(optional(st.integers(0, 9998)))
        text.append(f"AA{n}{unsigned(hours, 2)}{unsigned(depth, 4)}21")
        decoded[f"AA{n}"] = {"hours": hours, "depth": None if depth is None else depth / 10}
    for n in range(1, draw(st.integers(0, 6)) + 1):
        oktas, height = draw(st.integers(0, 8)), draw(optional(st.integers(0, 35000)))
        cloud = draw(st.sampled_from(sorted(CLOUD_TYPES)))
        text.append(f"GA{n}{oktas:02d}1{signed(height, 5)}1{cloud}1")
        decoded[f"GA{n}"] = {"coverage": oktas, "base_height": height, "cloud_type": CLOUD_TYPES[cloud]}
    for n in range(1, draw(st.integers(0, 4)) + 1):
        period, value = draw(optional(st.integers(0, 998))), draw(optional(st.integers(-932, 618)))
        kind = draw(st.sampled_from("NM"))
        text.append(f"KA{n}{unsigned(period, 3)}{kind}{signed(value, 4)}1")
        decoded[f"KA{n}"] = {"hours": None if period is None else period / 10, "kind": "min" if kind == "N" else "max",
                             "value": None if value is None else value / 10}
    for n in range(1, draw(st.integers(0, 7)) + 1):
        code = draw(st.sampled_from(sorted(MANUAL_WEATHER)))
        text.append(f"MW{n}{code}1")
        decoded[f"MW{n}"] = {"code": code, "present_weather_condition": MANUAL_WEATHER[code]}
    remarks = draw(st.lists(st.tuples(st.sampled_from(["MET", "SYN", "AWY"]), PRINTABLE), max_size=3))
    rem = ("REM" + "".join(remark(k, t) for k, t in remarks)) if remarks else ""
    return "ADD" + "".join(text) + rem, {"skipped": skipped, "decoded": decoded, "remarks": remarks}


@SETTINGS
@given(additional())
def test_random_additional_sections_are_consumed_exactly(case: tuple[str, dict[str, object]]) -> None:
    variable, expected = case
    record = decode_line(isd_line(variable))
    assert record.unknown_identifier is None and record.unparsed is None
    assert record.skipped == expected["skipped"]
    decoded = expected["decoded"]
    assert set(record.groups) == set(decoded)
    for ident, values in decoded.items():
        assert {k: record.groups[ident][k] for k in values} == values, ident
    assert record.remarks == expected["remarks"]


TEMPLATES = [
    REAL_FIRST_LINE,
    isd_line("ADDAA101000095AU116021015AW1711GA1071+007501061KA1120N-00441MA1100981999999MW1715OC101131"
             "REMSYN004abcdEQDQ01    003PRSWM1QNNE11 1 00610"),
]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(TEMPLATES)).encode())
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["replace", "delete", "insert", "truncate"]))
        where = draw(st.integers(0, max(len(line) - 1, 0)))
        if action == "replace" and line:
            line[where] = draw(st.integers(0, 255))
        elif action == "delete":
            del line[where : where + draw(st.integers(1, 20))]
        elif action == "insert":
            line[where:where] = draw(st.binary(min_size=1, max_size=10))
        else:
            del line[where:]
    return bytes(line)


@settings(max_examples=300, deadline=None)
@given(st.one_of(damaged(), st.binary(max_size=300)))
def test_random_damage_raises_only_the_typed_error(line: bytes) -> None:
    try:
        record = decode_line(line, 3)
    except IsdLineError as error:
        assert error.line_number == 3 and error.kind
    else:
        assert isinstance(record, IsdRecord)


@SETTINGS
@given(st.lists(st.one_of(damaged(), st.sampled_from([t.encode() for t in TEMPLATES])), max_size=12))
def test_reader_accounts_for_every_line(lines: list[bytes]) -> None:
    lines = [TEMPLATES[0].encode(), *lines]  # a good first line: the content never starts like a gzip file
    data = b"".join(line.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n" for line in lines)
    with read_isd(io.BytesIO(data)) as reader:
        records = list(reader)
    assert reader.stats.lines == len(lines)
    assert len(records) + reader.stats.skipped == len(lines) == len(records) + len(reader.errors)
