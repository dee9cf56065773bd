"""Group mode: one process hosting many stations (SHARD_FILE set), each with its own identity and connection,
each a lane of the replay engine (`station.engine`).

- `settings`  the group's variables (the replay's shared fields, plus SHARD_FILE, IDENTITIES_DIR, DATA_DIR, ...);
- `prepare`   open each data file's message cache once, check identities, set each lane's start point;
- `runtime`   the one scheduler serving every lane's deadlines, staggered connects, drain and shutdown;
- `report`    the group's progress, status file and summaries; `lateness` its lateness statistics;
- `status`    the group status file's health rule; `command` `station run` in group mode.
"""
