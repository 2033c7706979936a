"""The server's log lines: the standard format, whatever the formatter caches."""

from __future__ import annotations

import logging

from openpinpoint.server import LOG_FORMAT, _LogFormatter


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord(
        "openpinpoint.delivery", logging.INFO, "", 0, "sent %s", ("x",), None
    )
    record.created = created
    record.msecs = (created - int(created)) * 1000
    return record


def test_log_lines_read_as_the_standard_formatter_writes_them_within_and_across_seconds() -> None:
    ours, standard = _LogFormatter(LOG_FORMAT), logging.Formatter(LOG_FORMAT)
    for created in (1_800_000_000.001, 1_800_000_000.999, 1_800_000_001.5, 1_800_000_000.25):
        assert ours.format(_record(created)) == standard.format(_record(created))
