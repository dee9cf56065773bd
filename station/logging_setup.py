"""Logging for the station: readable text lines or one JSON object per line (`LOG_FORMAT=json`), on stderr.

Log calls pass structured fields with `extra={"event": ..., "fields": {...}}`; the text formatter appends them as
`key=value`, the JSON formatter puts them at the top level, so `docker logs` reads well and machines parse it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

LOGGER_NAME = "station"


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _text_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


class TextFormatter(logging.Formatter):
    """`2026-01-01T00:00:00.000Z INFO  progress message key=value ...`"""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {}) or {}
        event = getattr(record, "event", "") or ""
        parts = [_timestamp(record), f"{record.levelname:<5}"]
        if event:
            parts.append(event)
        message = record.getMessage()
        if message:
            parts.append(message)
        parts += [f"{k}={_text_value(v)}" for k, v in fields.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": ..., "event": ..., "message": ..., <fields>}`"""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "event": getattr(record, "event", "") or "log",
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            doc.update(fields)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, separators=(",", ":"))


def configure(log_format: str = "text", level: str = "INFO") -> logging.Logger:
    """Send the station's logs to stderr in `log_format` ('text' or 'json'); return the station logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return logging.getLogger(LOGGER_NAME)


def emit(logger: logging.Logger, level: int, event: str, message: str = "", **fields: Any) -> None:
    """Log `message` as `event` with structured `fields`."""
    logger.log(level, message, extra={"event": event, "fields": fields})
