"""Faults on purpose (issue 20): what station, chaos runner and audit share.

- `scenario`   the FAULTS file: pydantic models (device rules, fleet faults, seed), loading YAML or JSON with one
               line per problem, its JSON Schema (contracts/fault-scenario.schema.json);
- `seeding`    the seeded, order-independent decisions: which stations a rule selects, whether it acts on a seq;
- `truth`      the ground-truth log (compact append-only JSON lines, one per run of faulted seqs) and its reader;
- `fleet_state` what each station's state files say it had acknowledged (checkpoint and status), for the audit.

The device transformations themselves live in `station.faults`; the audit in `pipeline.audit`; fleet faults
(docker) and the collection of the stations' state in `deploy.chaos`.
"""
