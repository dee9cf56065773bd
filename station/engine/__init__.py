"""The replay engine: one core that replays a station, whatever hosts it.

- `lane`     one station's replay: record feed, pacing, seq, publish, end of pass, PUBACKs, checkpoint, summary;
- `feed`     where a lane's records come from: the group's message cache, or one station's own source;
- `resume`   the start point from the checkpoint (resume, LOOP after a finished run, changed file);
- `ledger`   the ack window: the contiguous acknowledged prefix the checkpoint advances over;
- `summary`  what a run did, the one set of summary fields;
- `writer`   the background writer of checkpoints and status files (an fsync never delays a deadline);
- `connect`  the connection config of a station's client and the group-wide (re)connect rate limiter.

Hosts: `station.replay.Replay` runs one lane and blocks on its deadlines (a single station); the group runtime
(`station.group.runtime`) runs thousands from one scheduler. Neither holds replay logic of its own.

Hooks (one place each): every outgoing message passes through `Lane.publish` (fault injection, the
published/lateness counters); every PUBACK or failure through `Lane.absorb` (acked/failed/in-flight counters);
every connection event through `station.publisher.Publisher._event` (connects).
"""
