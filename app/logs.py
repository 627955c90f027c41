"""JSON-lines logging to stdout, with the current request id attached to every record.

Two writers share the one stream and the one line shape: the `logging` handler for everything the
app and its libraries log, and `AccessLog` for the line every request gets. The access line skips
`logging`'s per-record machinery (a LogRecord, a lock, a formatter walking the record's attributes,
and a flush, one write(2), per request): lines are written to the stream's buffer, in order with the
other records, and flushed once per turn of the event loop, so a busy replica writes its access log
in batches while a quiet one still writes each line at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import sys
import time
from typing import Any, TextIO

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}

ACCESS_LOGGER = "app.access"
# A str as json.dumps writes it (ASCII, escaped, quoted).
_string = json.encoder.encode_basestring_ascii


class _Clock:
    """ISO 8601 UTC timestamps with milliseconds; the formatted second is reused within it."""

    def __init__(self) -> None:
        self._second = -1
        self._stamp = ""

    def stamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((created - second) * 1000):03d}Z"


def entry(ts: str, level: str, logger: str, msg: str, instance: str) -> dict[str, Any]:
    """The fields every line starts with, in this order; the request id and the record's own follow."""
    return {"ts": ts, "level": level, "logger": logger, "msg": msg, "instance": instance}


class JsonFormatter(logging.Formatter):
    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id
        self._clock = _Clock()

    def format(self, record: logging.LogRecord) -> str:
        line = entry(
            self._clock.stamp(record.created),
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            self.instance_id,
        )
        request_id = request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key != "color_message":
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class AccessLog:
    """One JSON line per request (`msg: "request"`, logger `app.access`, level info), never sampled.

    Written when the `app.access` logger is enabled for INFO, as a record of it would be. `stream` is
    the stream the logging handler writes to (stdout); a line is in its buffer when `request` returns
    and reaches the stream at the end of the event loop's current turn, or at once when no loop runs
    in this thread. `flush` writes out whatever is pending (shutdown calls it).
    """

    def __init__(self, instance_id: str, stream: TextIO | None = None) -> None:
        self.instance_id = instance_id
        self._instance = _string(instance_id)
        self.stream: TextIO = stream if stream is not None else sys.stdout
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self._clock = _Clock()
        self._flush_scheduled = False

    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def request(self, request_id: str, method: str, path: str, route: str, status: int, seconds: float) -> None:
        """The line of one request, as `JsonFormatter` would write a record of it with these fields
        (`method`, `path`, `route`, `status`, `duration_ms`), formatted directly."""
        line = (
            f'{{"ts": "{self._clock.stamp(time.time())}", "level": "info", "logger": "{ACCESS_LOGGER}", '
            f'"msg": "request", "instance": {self._instance}, "request_id": {_string(request_id)}, '
            f'"method": {_string(method)}, "path": {_string(path)}, "route": {_string(route)}, '
            f'"status": {int(status)}, "duration_ms": {round(seconds * 1000, 2)!r}}}\n'
        )
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(line)
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        # stdout closed or gone (the collector stopped reading): a log line never fails a request.
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()


def configure(instance_id: str, level: str = "INFO") -> None:
    """Route the app's and uvicorn's loggers to one JSON handler on stdout (idempotent)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(instance_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The app writes its own access line (with request id, route and duration).
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("botocore", "boto3", "urllib3", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
