"""JSON log lines for log aggregation (`LOG_FORMAT=json`), scrubbed like every other line.

Threat: the logs a merchant is asked to monitor ("Monitor your logs") become a leak once they are
shipped to an aggregator (Loki, ELK, CloudWatch, a SaaS): a card number or secret key in any
line is then copied to a third party. Handlers run the ScrubFilter before this formatter; the
formatter scrubs the message, the exception and the stack again, so a handler configured
without the filter (a hand-written logconfig, a library's own handler) still writes no card
number or key.

One JSON object per line, from the standard library only: `time` (UTC, ISO 8601), `level`,
`logger`, `message`, and when present `exception` and `stack`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from security.logscrub import scrub


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (newlines inside values are escaped by json)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        exception = record.exc_text  # set (and scrubbed) by ScrubFilter
        if not exception and record.exc_info and record.exc_info[0] is not None:
            exception = self.formatException(record.exc_info)  # no filter ran: scrub below
        if exception:
            entry["exception"] = scrub(exception)
        if record.stack_info:
            entry["stack"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)
