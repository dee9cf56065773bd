"""Group mode: one process hosting many stations (SHARD_FILE set), each with its own identity and connection.

- `settings`  the group's variables (the station's own, plus SHARD_FILE, IDENTITIES_DIR, DATA_DIR, CACHE_DIR, ...);
- `cache`     decode once, replay many: a per-file cache of message templates shared by every station;
- `lane`      one station of the group: seq, checkpoint, resume, PUBACK checks, as a single station;
- `runtime`   the one scheduler serving every lane's deadlines, staggered connects, progress and health.
"""
