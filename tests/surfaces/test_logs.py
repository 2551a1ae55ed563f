"""Log lines as a log stack reads them: one JSON object a line, with the task fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from workers.logs import configure_logging, url_of


@pytest.fixture
def restore_root() -> Iterator[None]:
    """configure_logging replaces the root handlers (pytest's among them): put them back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_time_level_message_and_task_fields(restore_root: None) -> None:
    """Each record is one JSON object: time, level, message, logger, stage, task_id, url, outcome."""
    out = io.StringIO()
    configure_logging("json", logging.INFO, out)
    log = logging.getLogger("newsflow.test")
    extra = {"outcome": "completed", "url": "https://báo.example/tin-1", "color_message": "\x1b[36mfetched\x1b[0m"}
    log.info("fetched %s", "https://báo.example/tin-1", extra=extra)
    log.debug("not shown at INFO")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "fetched https://báo.example/tin-1"  # not escaped to \\u sequences either
    assert "báo" in lines[0]
    assert record["level"] == "INFO" and record["logger"] == "newsflow.test"
    assert record["outcome"] == "completed" and record["url"] == "https://báo.example/tin-1"
    assert record["stage"] is None and record["task_id"] is None  # outside a task
    assert record["time"].startswith("20") and "T" in record["time"]
    assert "color_message" not in record  # uvicorn's coloured duplicate of the message


def test_text_lines_stay_readable(restore_root: None) -> None:
    """The text format is one plain line, with no task fields outside a task."""
    out = io.StringIO()
    configure_logging("text", logging.INFO, out)
    logging.getLogger("newsflow.test").warning("feed %s: HTTP 503", "https://x.example/rss")
    line = out.getvalue().strip()
    assert line.endswith("WARNING newsflow.test: feed https://x.example/rss: HTTP 503")
    assert not line.startswith("{")


@pytest.mark.parametrize(
    ("args", "url"),
    [
        (("https://a.example/p.html",), "https://a.example/p.html"),
        (({"url": "https://a.example/feed.xml", "site": "a"},), "https://a.example/feed.xml"),
        ((), None),
        (("not a url",), None),
        (([1, 2],), None),
    ],
)
def test_the_url_of_a_task_is_its_first_argument_or_its_url_field(args: tuple, url: str | None) -> None:
    assert url_of(args) == url


def test_an_unknown_log_format_is_refused_by_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSFLOW_LOG_FORMAT takes json or text; anything else fails at start, naming the setting."""
    from pydantic import ValidationError

    from pipeline.settings import Settings

    monkeypatch.setenv("NEWSFLOW_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="log_format"):
        Settings.load()
    monkeypatch.setenv("NEWSFLOW_LOG_FORMAT", "json")
    assert Settings.load().log_format == "json"
