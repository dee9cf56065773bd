"""`station run` in group mode (SHARD_FILE set): load the group settings and the shard, run every station.

Exit codes as a single station's: 0 when done or stopped by SIGTERM/SIGINT (after the drain and summaries), 2 for
a configuration problem of the group (one line each, naming the variable or path); when every station failed,
2 or 3 if they all failed alike on configuration or damaged data, else 1 (`runtime.group_exit_code`).
"""

from __future__ import annotations

import logging

from fleetcore.errors import ConfigError as FleetConfigError
from fleetcore.shard import Shard
from fleetcore.shard import load as load_shard
from station import stop_signals
from station.group.settings import GroupSettings
from station.logging_setup import configure, emit
from station.settings import ConfigError, load_settings


def process_name(shard: Shard) -> str:
    """The group's name in its metrics (`group` label) and its ground-truth log: `group-<shard>`."""
    return f"group-{shard.shard}"


def run_group(log: logging.Logger) -> int:
    from station.engine.instruments import open_instruments

    try:
        settings = load_settings(GroupSettings)
        shard = load_shard(settings.shard_file)
        instruments = open_instruments(settings, process_name(shard), settings.state_dir)
    except (ConfigError, FleetConfigError) as exc:
        for line in str(exc).splitlines():
            emit(log, logging.ERROR, "config", line)
        return 2
    configure(settings.log_format, settings.log_level)
    if settings.log_level != "DEBUG":
        # One "connected" line per station would drown the group's progress lines; failures still show.
        logging.getLogger("station.publisher").setLevel(logging.WARNING)

    from station.group.runtime import GroupRuntime

    try:
        runtime = GroupRuntime(settings, shard, instruments=instruments)
        stop_signals.install(runtime, log, settings.drain_timeout)
        return runtime.run()
    finally:
        instruments.close()
