"""Logging: one line per event, for people by default or as JSON for collectors.

Log records may carry structured fields in ``extra={"fields": {...}}``; both formats
print them. Nothing secret is ever passed to a logger (tokens and passwords are read
by storage/ and never leave it).
"""

import json
import logging
import sys
import time
from typing import Any, Literal

LogFormat = Literal["text", "json"]


class TextFormatter(logging.Formatter):
    """``2026-11-23T20:00:00.123Z INFO selector: switched hkg to cu (uplink=ct pop=hkg)``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        tail = " (" + " ".join(f"{k}={v}" for k, v in fields.items()) + ")" if fields else ""
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}{tail}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup(log_format: LogFormat = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler reports every job run, aioquic and httpx every probe, at INFO: many lines
    # a second at our rates, and none of them an event.
    for chatty in ("apscheduler", "quic", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # And it warns at every slot a running job makes it skip: agent/jobs.py says it once.
    logging.getLogger("apscheduler.scheduler").addFilter(_not_a_skipped_run)


def _not_a_skipped_run(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Execution of job")


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"
