"""The fault scenario (`FAULTS=path`, YAML or JSON): device rules, fleet faults and the seed that makes it repeatable.

A device rule selects stations (`select`: names, a glob `pattern`, a `fraction`, or an exact `count`), names a
fault `kind` with its parameters, and says when it acts on a station's messages (`when`: after/until a seq, every
N-th seq, with a probability per message, in a time window since the station started, at most `limit` times).
All conditions given must hold; none given means every message. A fleet fault (`fleet:`) acts on containers of
the running fleet at a time after `make chaos` started.

Invariants: a scenario that loads is complete and consistent (pydantic, `extra="forbid"` everywhere); the same
scenario, fleet and seed give the same decisions (`fleetcore.faults.seeding`). `count` needs the fleet's names:
`Scenario.resolved(fleet)` replaces each count by the names it picks, which a station (that does not know the
fleet) then reads; an unresolved count is refused by `Scenario.rules_for`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from fleetcore.errors import ConfigError
from fleetcore.faults.seeding import hash64

SCHEMA_ID = "https://weather-fleet.dev/contracts/fault-scenario.schema.json"
SCENARIO_VERSION = 1

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")


def parse_duration(value: object) -> object:
    """Seconds from a number or a text like '90s', '10m', '1h30m' (anything else is left for pydantic to refuse)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        match = _DURATION.match(text)
        if not text or not match or not any(match.groups()):
            raise ValueError(f"{value!r} is not a duration (seconds, or e.g. '90s', '10m', '1h30m')")
        h, m, s = (float(g) if g else 0.0 for g in match.groups())
        return h * 3600 + m * 60 + s
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class DeviceFault(StrEnum):
    OFFLINE = "offline"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    DELAY = "delay"
    CLOCK_SKEW = "clock_skew"
    STUCK = "stuck"
    SPIKE = "spike"
    MISSING = "missing"
    MALFORMED = "malformed"
    IMPERSONATE = "impersonate"
    DISCONNECT = "disconnect"
    RECONNECT_STORM = "reconnect_storm"


class FleetFault(StrEnum):
    BROKER_RESTART = "broker_restart"
    KILL = "kill"
    PAUSE = "pause"
    NETWORK_CUT = "network_cut"


class Measure(StrEnum):
    """The message's measurement objects (`{"value": ..., "quality": ...}`) a sensor fault can act on."""

    AIR_TEMPERATURE = "air_temperature"
    DEW_POINT = "dew_point"
    WIND_SPEED = "wind_speed"
    WIND_DIRECTION = "wind_direction"
    SEA_LEVEL_PRESSURE = "sea_level_pressure"
    SKY_CEILING = "sky_ceiling"
    VISIBILITY_DISTANCE = "visibility_distance"


# Out of physical range for each measurement (a spike's default value).
SPIKE_DEFAULTS: dict[Measure, float] = {
    Measure.AIR_TEMPERATURE: 99.9, Measure.DEW_POINT: 99.9, Measure.WIND_SPEED: 250.0,
    Measure.WIND_DIRECTION: 720.0, Measure.SEA_LEVEL_PRESSURE: 2000.0, Measure.SKY_CEILING: -500.0,
    Measure.VISIBILITY_DISTANCE: -1.0,
}


class OfflineMode(StrEnum):
    BUFFER = "buffer"  # held while offline, flushed late in one burst when the station is back
    DROP = "drop"      # never sent (dropped at the source)


class MissingMode(StrEnum):
    NULL = "null"      # the measurement's value becomes null
    ABSENT = "absent"  # the measurement object is left out of the message


class Malformation(StrEnum):
    NOT_JSON = "not_json"
    TRUNCATED = "truncated"
    WRONG_TYPE = "wrong_type"
    NAN = "nan"
    ANY = "any"  # one of the four above, chosen per message by the seed


class SkewField(StrEnum):
    SENT_AT = "sent_at"
    TIME = "time"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Window(_Strict):
    """Seconds since the station (process) started its replay: `start` <= elapsed < `end`."""

    start: Duration = 0.0
    end: Duration | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"window end ({self.end:g} s) must be after its start ({self.start:g} s)")
        return self


class When(_Strict):
    """When a rule acts on a selected station's message; every condition given must hold."""

    after: int | None = Field(None, ge=0, description="Only messages with seq > after.")
    until: int | None = Field(None, ge=1, description="Only messages with seq <= until.")
    every: int | None = Field(None, ge=1, description="Only every N-th seq (seq % every == 0).")
    probability: float | None = Field(None, gt=0, le=1, description="Seeded draw per message.")
    window: Window | None = Field(None, description="Only in this time window since the station started.")
    limit: int | None = Field(None, ge=1, description="At most this many messages per station process.")

    @model_validator(mode="after")
    def _range(self) -> When:
        if self.after is not None and self.until is not None and self.until <= self.after:
            raise ValueError(f"until ({self.until}) must be greater than after ({self.after})")
        return self


class Select(_Strict):
    """Which stations a rule acts on: `names` and/or `pattern` narrow the fleet, then `fraction` or `count` picks
    among those (seeded). Nothing given: every station."""

    names: list[str] | None = Field(None, min_length=1, description="Thing names.")
    pattern: str | None = Field(None, min_length=1, description="A glob on thing names, e.g. 'station-1*'.")
    fraction: float | None = Field(None, gt=0, le=1, description="Each matching station with this probability.")
    count: int | None = Field(None, ge=1, description="Exactly this many matching stations (needs the fleet).")

    @model_validator(mode="after")
    def _one_sampler(self) -> Select:
        if self.fraction is not None and self.count is not None:
            raise ValueError("give fraction or count, not both")
        return self

    def matches(self, thing: str) -> bool:
        return (self.names is None or thing in self.names) and \
               (self.pattern is None or fnmatch.fnmatchcase(thing, self.pattern))


class _Rule(_Strict):
    select: Select = Select()
    when: When = When()
    note: str | None = Field(None, description="Free text, copied into nothing: for the reader of the file.")

    def parameters(self) -> dict:
        """The kind's own parameters (what the ground truth records)."""
        return self.model_dump(mode="json", exclude={"kind", "select", "when", "note"})


class Offline(_Rule):
    kind: Literal[DeviceFault.OFFLINE]
    mode: OfflineMode = OfflineMode.BUFFER


class Duplicate(_Rule):
    kind: Literal[DeviceFault.DUPLICATE]
    copies: int = Field(1, ge=1, le=100, description="Extra copies sent right after the message.")


class Reorder(_Rule):
    kind: Literal[DeviceFault.REORDER]
    behind: int = Field(1, ge=1, le=1000, description="The message is sent after the next `behind` messages.")


class Delay(_Rule):
    kind: Literal[DeviceFault.DELAY]
    seconds: Duration = Field(description="Sent this late (at the first message or release call after).")


class ClockSkew(_Rule):
    kind: Literal[DeviceFault.CLOCK_SKEW]
    offset: float = Field(0.0, description="Seconds added to the clock (negative: behind).")
    drift: float = Field(0.0, description="Seconds gained per hour since the station started.")
    fields: list[SkewField] = Field([SkewField.SENT_AT], min_length=1)

    @model_validator(mode="after")
    def _some_skew(self) -> ClockSkew:
        if self.offset == 0 and self.drift == 0:
            raise ValueError("a clock_skew needs an offset or a drift")
        return self


class Stuck(_Rule):
    kind: Literal[DeviceFault.STUCK]
    fields: list[Measure] = Field([Measure.AIR_TEMPERATURE], min_length=1)


class Spike(_Rule):
    kind: Literal[DeviceFault.SPIKE]
    field: Measure = Measure.AIR_TEMPERATURE
    value: float | None = Field(None, description="Default: out of the measurement's physical range.")


class Missing(_Rule):
    kind: Literal[DeviceFault.MISSING]
    fields: list[Measure] = Field([Measure.AIR_TEMPERATURE], min_length=1)
    mode: MissingMode = MissingMode.NULL


class Malformed(_Rule):
    kind: Literal[DeviceFault.MALFORMED]
    variant: Malformation = Malformation.ANY


class Impersonate(_Rule):
    kind: Literal[DeviceFault.IMPERSONATE]
    victim: str | None = Field(None, min_length=1, description="The thing the forged copy names "
                               "(default: '<thing>-forged').")


class Disconnect(_Rule):
    kind: Literal[DeviceFault.DISCONNECT]
    seconds: Duration = Field(10.0, description="Connection down this long, then back.")


class ReconnectStorm(_Rule):
    kind: Literal[DeviceFault.RECONNECT_STORM]
    seconds: Duration = Field(5.0, description="Every selected station down this long...")
    spread: Duration = Field(0.0, description="...and back within this many seconds of each other (seeded).")


DeviceRule = Annotated[Union[Offline, Duplicate, Reorder, Delay, ClockSkew, Stuck, Spike, Missing, Malformed,
                             Impersonate, Disconnect, ReconnectStorm], Field(discriminator="kind")]


class FleetAction(_Strict):
    """A fault on the running fleet's containers, `at` seconds after `make chaos` started."""

    kind: FleetFault
    at: Duration
    target: Select = Field(Select(), description="Compose services (station-N, group-N); ignored by "
                           "broker_restart, which acts on the broker.")
    seconds: Duration = Field(0.0, description="broker_restart: down this long; pause / network_cut: how long; "
                              "kill: restarted after this long when the restart policy has not done it (0: never).")

    @model_validator(mode="after")
    def _duration(self) -> FleetAction:
        if self.kind in (FleetFault.PAUSE, FleetFault.NETWORK_CUT) and self.seconds <= 0:
            raise ValueError(f"{self.kind.value} needs seconds > 0")
        return self


class Scenario(_Strict):
    """A whole FAULTS file."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                              json_schema_extra={"$id": SCHEMA_ID, "title": "FaultScenario"})

    version: Literal[1] = SCENARIO_VERSION
    name: str | None = None
    description: str | None = None
    seed: int = Field(description="Makes every seeded decision repeatable.")
    rules: list[DeviceRule] = Field([], description="Device faults, applied in this order.")
    fleet: list[FleetAction] = Field([], description="Fleet faults for `make chaos`.")

    def selects(self, index: int, thing: str) -> bool:
        """Whether rule `index` acts on `thing` (a count must have been resolved into names first)."""
        select = self.rules[index].select
        if not select.matches(thing):
            return False
        if select.count is not None:
            raise ConfigError(f"rule {index} selects a count of stations, which needs the fleet's names: resolve "
                              "the scenario with the fleet first (`make register` with FAULTS set does it; "
                              "docs/faults.md)")
        return select.fraction is None or hash64(self.seed, index, "select", thing) / 2.0**64 < select.fraction

    def rules_for(self, thing: str) -> list[tuple[int, DeviceRule]]:
        """(index, rule) of every rule that acts on `thing`, in file order."""
        return [(i, rule) for i, rule in enumerate(self.rules) if self.selects(i, thing)]

    def resolved(self, fleet: list[str]) -> Scenario:
        """The same scenario with each `count` replaced by the names it picks from `fleet` (seeded ranking)."""
        rules = []
        for index, rule in enumerate(self.rules):
            select = rule.select
            if select.count is not None:
                matching = sorted((t for t in fleet if select.matches(t)), key=lambda t: hash64(self.seed, index,
                                                                                             "select", t))
                names = sorted(matching[: select.count]) or None
                rule = rule.model_copy(update={"select": Select(names=names or ["<none>"])})
            rules.append(rule)
        return self.model_copy(update={"rules": rules})


def problem_lines(source: str, exc: ValidationError) -> list[str]:
    """One line per problem: `<source>: rules[2].when.probability: <message>`."""
    lines = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.get("loc", ())).lstrip(".")
        # A discriminated union names the tag in the path (rules[0].duplicate.copies): keep it, it says which kind.
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        if err.get("type") == "union_tag_invalid":
            tag = (err.get("ctx") or {}).get("tag")
            message = f"unknown kind {tag!r} (one of: {', '.join(k.value for k in DeviceFault)})"
        shown = err.get("input")
        got = "" if err.get("type") in ("missing", "union_tag_invalid") or isinstance(shown, (dict, list)) \
            else f" (got {shown!r})"
        lines.append(f"{source}: {loc or 'file'}: {message}{got}")
    return lines


def parse_scenario(text: str, source: str = "FAULTS", error: type[ConfigError] = ConfigError) -> Scenario:
    """The scenario in `text` (YAML, of which JSON is a subset); `error` with one line per problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{source}: not YAML or JSON{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise error(f"{source}: a scenario is a mapping with seed, rules and fleet, not {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise error("\n".join(problem_lines(source, exc))) from None


def load_scenario(path: Path, error: type[ConfigError] = ConfigError) -> Scenario:
    """The scenario in the file `path` (FAULTS); `error` naming FAULTS and the path."""
    source = f"FAULTS={path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{source}: cannot read it ({exc.strerror or exc}); see docs/faults.md") from None
    return parse_scenario(text, source, error)


def scenario_json_schema() -> dict:
    """The JSON Schema of a FAULTS file, as committed in contracts/."""
    return Scenario.model_json_schema()


def dump_json(scenario: Scenario) -> str:
    return json.dumps(scenario.model_dump(mode="json", exclude_none=True), indent=1) + "\n"
