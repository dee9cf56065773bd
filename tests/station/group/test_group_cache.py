"""Decode once, replay many: identical bytes to the normal path, invalidation, concurrent producers; shards."""

from __future__ import annotations

import gzip
import multiprocessing
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fleetcore.errors import ConfigError
from fleetcore.shard import Shard, ShardThing, load, parse, split
from station.engine.cache import fill, open_cache, station_prefix
from station.sources import IsdSource
from tests.station.group.support import write_isd

MINUTES = [0, 7, 15, 60, 61, 300]
SENT = datetime(2026, 11, 28, 20, 1, 2, 345000, tzinfo=timezone.utc)
SHIFTED = datetime(2026, 11, 28, 21, 0, 0, 500000, tzinfo=timezone.utc)


@pytest.mark.parametrize("shifted", [False, True])
def test_cached_messages_equal_the_normal_path_byte_for_byte(tmp_path: Path, shifted: bool) -> None:
    source = write_isd(tmp_path / "723123-14886-2022", MINUTES)
    cache, produced = open_cache(source, tmp_path / "cache", shifted=shifted)
    assert produced and len(cache) == len(MINUTES)
    for thing in ("weather-station-1", "weather-station-10000"):
        normal = IsdSource(source, thing)
        for i, record in enumerate(normal.records()):
            cached = cache.record(i)
            assert (cached.line_number, cached.time) == (record.line_number, record.time)
            seq = 10 ** 9 + i
            expected = normal.encode(record, seq=seq, sent_at=SENT, time=SHIFTED if shifted else None)
            got = fill(station_prefix(thing), cached.parts, seq, SENT, SHIFTED if shifted else None)
            assert got == expected


def test_real_file_bytes_match(small_file: Path, tmp_path: Path) -> None:
    cache, _ = open_cache(small_file, tmp_path, shifted=False)
    normal = IsdSource(small_file, "ws-1")
    n = 0
    for i, record in enumerate(normal.records()):
        got = fill(station_prefix("ws-1"), cache.record(i).parts, i + 1, SENT, None)
        assert got == normal.encode(record, seq=i + 1, sent_at=SENT, time=None)
        n += 1
    assert n == len(cache) > 100


def test_reused_when_unchanged_rebuilt_when_the_file_changes(tmp_path: Path) -> None:
    source = write_isd(tmp_path / "a.gz.src", MINUTES)
    gz = tmp_path / "a.gz"
    gz.write_bytes(gzip.compress(source.read_bytes()))
    first, produced = open_cache(gz, tmp_path / "cache", shifted=False)
    assert produced
    again, produced = open_cache(gz, tmp_path / "cache", shifted=False)
    assert not produced and again.path == first.path
    write_isd(source, MINUTES[:3])
    gz.write_bytes(gzip.compress(source.read_bytes()))
    changed, produced = open_cache(gz, tmp_path / "cache", shifted=False)
    assert produced and len(changed) == 3 and changed.path != first.path


def test_a_torn_cache_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    source = write_isd(tmp_path / "a", MINUTES)
    cache, _ = open_cache(source, tmp_path / "cache", shifted=False)
    data = cache.path.read_bytes()
    cache.close()
    cache.path.write_bytes(data[:-10])
    rebuilt, produced = open_cache(source, tmp_path / "cache", shifted=False)
    assert produced and len(rebuilt) == len(MINUTES)


def _produce(args: tuple[str, str]) -> bool:
    source, cache_dir = args
    return open_cache(Path(source), Path(cache_dir), shifted=False)[1]


def test_concurrent_producers_decode_once(tmp_path: Path) -> None:
    source = write_isd(tmp_path / "a", list(range(0, 3000, 3)))
    with multiprocessing.get_context("fork").Pool(4) as pool:
        produced = pool.map(_produce, [(str(source), str(tmp_path / "cache"))] * 8)
    assert sum(produced) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == \
        [next(p.name for p in (tmp_path / "cache").iterdir() if p.name.endswith(".msgcache"))]


def test_first_index_after_line(tmp_path: Path) -> None:
    cache, _ = open_cache(write_isd(tmp_path / "a", MINUTES), tmp_path / "c", shifted=False)
    assert [cache.first_index_after_line(n) for n in (0, 1, 3, 6, 99)] == [0, 1, 3, 6, 6]


# --- shards ------------------------------------------------------------------------------------------------
def test_split_numbers_shards_from_one_in_order() -> None:
    things = [ShardThing(f"t-{i}", "f", 0) for i in range(1, 26)]
    shards = split(things, 10)
    assert [s.shard for s in shards] == [1, 2, 3]
    assert [len(s.things) for s in shards] == [10, 10, 5]
    assert [t for s in shards for t in s.things] == things


def test_shard_round_trip_and_contract_errors(tmp_path: Path) -> None:
    shard = Shard(2, (ShardThing("a", "030910-99999-2022.gz", 0), ShardThing("b", "x", 17)))
    path = tmp_path / "shard-2.json"
    path.write_text(shard.to_json())
    assert load(path) == shard
    with pytest.raises(ConfigError, match="data_file"):
        parse('{"version":1,"shard":1,"things":[{"thing_name":"a","data_file":"/host/x","start_offset":0}]}')
    with pytest.raises(ConfigError, match="twice"):
        parse('{"version":1,"shard":1,"things":[{"thing_name":"a","data_file":"x"},{"thing_name":"a",'
              '"data_file":"y"}]}')
    with pytest.raises(ConfigError, match="SHARD_FILE"):
        load(tmp_path / "missing.json")
    assert os.path.basename(str(path)) == "shard-2.json"
