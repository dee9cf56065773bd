"""The shared kernel of weather-fleet: what the station, provisioning and pipeline packages have in common.

One home per concept, imported by the three packages (which never import one another):

- `identity`   the identity-folder layout (`things/<thing>/{certificate.pem,private.key,ca.pem}`) and its paths;
- `topic`      the fleet topic, its validation, and the monitor's subscription filter derived from it;
- `mqtt`       the one mutual-TLS MQTT5 client builder (awscrt) with the project's defaults;
- `settings`   the pydantic-settings base and the loader that reports each bad variable on one line;
- `errors`     the kernel's exception base (each package derives its own base from `FleetError`) and the exit
               codes every CLI uses (2 configuration, 1 other failure);
- `target`     `Target` (local | aws) and MAX_RATE's aws default (AWS IoT Core's per-connection publish limit);
- `aws_limits` every AWS quota the fleet meets (IoT Core, Firehose by region), each with its documentation;
- `station_variables`  the station's environment variables, from which compose files are generated and checked.

Nothing here imports boto3, cryptography or duckdb: the station image carries this package.
"""
