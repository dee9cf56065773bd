"""Regenerate the committed JSON Schemas in contracts/ from the models (`make schemas`)."""

from pathlib import Path

from fleetcore.faults.scenario import scenario_json_schema
from fleetcore.manifest import dump_schema, manifest_json_schema
from station.message import message_json_schema

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"

if __name__ == "__main__":
    (CONTRACTS / "weather-message.schema.json").write_text(dump_schema(message_json_schema()))
    (CONTRACTS / "fleet-manifest.schema.json").write_text(dump_schema(manifest_json_schema()))
    (CONTRACTS / "fault-scenario.schema.json").write_text(dump_schema(scenario_json_schema()))
    print(f"wrote schemas to {CONTRACTS}")
