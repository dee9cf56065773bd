"""`station run`: replay DATA_FILE to the broker as THING_NAME (what each container runs).

Configuration comes from the environment / `.env` (see `.env.example`, Station section). Exit codes
(`station.exit_codes.ExitCode`, docs/failures.md): 0 when the file is done or SIGTERM/SIGINT stopped the replay
(after the drain and summary), 1 when the broker could not be reached, 2 for a configuration problem (one line
each, naming the variable or path), 3 when the data file is damaged or has no record. Each ends with a summary
line, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os

from fleetcore.errors import exit_code
from station import stop_signals
from station.errors import ConfigError, StationError
from station.exit_codes import StopReason
from station.logging_setup import configure, emit
from station.settings import check_files, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Settings: environment variables (THING_NAME, MQTT_HOST, DATA_FILE, ...), see .env.example."


def run(args: argparse.Namespace) -> int:
    log_format = os.environ.get("LOG_FORMAT", "text").lower()
    log = configure("json" if log_format == "json" else "text", os.environ.get("LOG_LEVEL", "INFO").upper()
                    if os.environ.get("LOG_LEVEL", "INFO").upper() in ("DEBUG", "INFO", "WARNING", "ERROR")
                    else "INFO")
    from station.group.settings import group_mode

    if group_mode():  # SHARD_FILE set: one process runs every station of the shard (station.group)
        from station.group.command import run_group

        return run_group(log)
    try:
        settings = load_settings()
        check_files(settings)
    except StationError as exc:  # in the log's format (json in containers), one line each
        return _failed(log, exc)
    configure(settings.log_format, settings.log_level)

    from station.engine.instruments import open_instruments
    from station.replay import Replay

    try:  # FAULTS and METRICS_PORT: the process's faults and metrics (nothing when unset / 0)
        instruments = open_instruments(settings, settings.thing_name, settings.state_dir)
    except StationError as exc:
        return _failed(log, exc)
    try:
        replay = Replay(settings, instruments=instruments)
        stop_signals.install(replay, log, settings.drain_timeout)
        return replay.run()
    except StationError as exc:  # found only when used, e.g. identity files that are not PEM
        return _failed(log, exc)
    finally:
        instruments.close()


def _failed(log: logging.Logger, exc: StationError) -> int:
    """One line per problem (event `config` for a configuration error), then the summary; the exit code
    (`fleetcore.errors.exit_code`: 2 configuration, 1 other)."""
    problems = str(exc).splitlines()
    config = isinstance(exc, ConfigError)
    for line in problems:
        emit(log, logging.ERROR, "config" if config else "error", line)
    code = exit_code(exc)
    emit(log, logging.INFO, "summary", "", reason=StopReason.CONFIG_ERROR if config else "error",
         problems=len(problems), published=0, exit_code=code)
    return code
