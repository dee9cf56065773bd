"""The committed JSON Schemas in contracts/ are exactly what the models generate."""

import json
from pathlib import Path

from fleetcore.faults.scenario import scenario_json_schema
from fleetcore.manifest import manifest_json_schema
from station.message import message_json_schema

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"


def test_message_schema_in_sync() -> None:
    committed = json.loads((CONTRACTS / "weather-message.schema.json").read_text())
    assert committed == message_json_schema(), "run `make schemas` and commit contracts/"


def test_manifest_schema_in_sync() -> None:
    committed = json.loads((CONTRACTS / "fleet-manifest.schema.json").read_text())
    assert committed == manifest_json_schema(), "run `make schemas` and commit contracts/"


def test_fault_scenario_schema_in_sync() -> None:
    committed = json.loads((CONTRACTS / "fault-scenario.schema.json").read_text())
    assert committed == scenario_json_schema(), "run `make schemas` and commit contracts/"
