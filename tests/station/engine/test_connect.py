"""The engine's connection config and the group-wide connect rate: AWS IoT Core's one CONNECT per second per
client id, connects and reconnects spread at the group's CONNECT_RATE with jitter."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fleetcore.identity import IdentityFiles
from station.engine.connect import AWS_MIN_RECONNECT_MS, LOCAL_MIN_RECONNECT_MS, ConnectSlots, connection_config
from station.group.runtime import GroupRuntime
from station.settings import StationSettings
from tests.station.group.support import FakeClock, fake_factory, fake_identities, shard_of

IDENTITY = IdentityFiles(Path("/id/certificate.pem"), Path("/id/private.key"), Path("/id/ca.pem"))


def settings(**values: object) -> StationSettings:
    return StationSettings(_env_file=None, thing_name="ws-1", data_file=Path("x"), **values)  # type: ignore[call-arg]


def test_aws_reconnect_back_off_never_starts_below_one_second() -> None:
    """AWS IoT Core allows one CONNECT per second per client id
    (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits)."""
    aws = connection_config(settings(target="aws"), "ws-1", IDENTITY)
    assert (aws.min_reconnect_ms, aws.max_reconnect_ms, aws.aws_limits, aws.metrics) == (1000, 30_000, True, True)
    assert connection_config(settings(target="aws"), "ws-1", IDENTITY, min_reconnect_ms=10).min_reconnect_ms == 1000
    local = connection_config(settings(), "ws-1", IDENTITY)
    assert (local.min_reconnect_ms, local.aws_limits, local.metrics) == (LOCAL_MIN_RECONNECT_MS, False, False)
    assert AWS_MIN_RECONNECT_MS == 1000


def test_the_built_client_gets_the_configured_back_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What reaches the awscrt builder (`fleetcore.mqtt.MqttOptions`) is the config's back-off."""
    from station import publisher as publisher_module

    seen = []
    monkeypatch.setattr(publisher_module, "mtls_client", lambda options, callbacks: seen.append(options) or object())
    config = connection_config(settings(target="aws"), "ws-1", IDENTITY)
    publisher_module.Publisher(config, "sensor/weather")
    assert [(o.client_id, o.min_reconnect_ms, o.max_reconnect_ms) for o in seen] == [("ws-1", 1000, 30_000)]


def test_connect_slots_give_one_jittered_time_per_slot_at_the_rate() -> None:
    slots = ConnectSlots(10.0, random.Random(3))
    times = [slots.take(100.0) for _ in range(5)]
    assert [int((t - 100.0) * 10) for t in times] == [0, 1, 2, 3, 4]  # one per 0.1 s slot, in order
    assert len({round((t - 100.0) * 10 % 1, 6) for t in times}) == 5  # each at its own place within its slot
    later = slots.take(200.0)  # after a pause: the next slot starts now, not where the last one was
    assert 200.0 <= later < 200.1
    assert slots.reconnect_floor_ms(1000) == 100_000 and ConnectSlots(500.0).reconnect_floor_ms(1) == 2
    with pytest.raises(ValueError):
        ConnectSlots(0)


@pytest.mark.parametrize(("target", "rate", "stations", "expected"),
                         [("local", 1000.0, 40, 250), ("local", 10.0, 40, 4000), ("aws", 1000.0, 40, 1000),
                          ("aws", 100.0, 2000, 20_000), ("local", 1.0, 100, 30_000)])
def test_group_reconnects_spread_at_the_group_connect_rate(tmp_path: Path, target: str, rate: float, stations: int,
                                                           expected: int) -> None:
    """Every client's reconnect back-off (full jitter) starts at the time the whole group needs at CONNECT_RATE,
    so a broker restart's reconnects arrive at about that rate; on aws never below 1 s per client id."""
    from station.group.settings import GroupSettings

    names = [f"ws-{i}" for i in range(stations)]
    fake_identities(tmp_path / "ids", names[:1])
    clock = FakeClock()
    s = GroupSettings(_env_file=None, shard_file=tmp_path / "shard.json", identities_dir=tmp_path / "ids",
                      state_dir=tmp_path / "state", target=target, connect_rate=rate)  # type: ignore[call-arg]
    rt = GroupRuntime(s, shard_of(names, "a"), clock=clock, sleep=clock.sleep,
                      publisher_factory=fake_factory(clock, []), write_state=False)
    config = rt.connection_config(rt.lanes[0])
    assert (config.client_id, config.min_reconnect_ms) == ("ws-0", expected)
