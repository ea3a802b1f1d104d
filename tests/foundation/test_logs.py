"""One log format for server and workers: timestamps, level, request id, operation, duration, error count."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ideaengine.platform import logs
from ideaengine.platform.services import Services
from tests.realtime.conftest import Server, server_env

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO ideaengine\.http \[(?P<id>[0-9a-f]{16})\] "
    r"GET /graphql status=200 ms=[\d.]+ operation=Me errors=0$"
)


@pytest.fixture
def configured() -> Iterator[None]:
    """logs.configure takes over the root logger: give pytest's own handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


@pytest.fixture
async def app_client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    from ideaengine.app import create_app

    app = create_app(services.settings, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_a_request_is_one_text_line_without_its_query_string_or_token(
    configured: None, app_client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("INFO", "text")
    response = await app_client.get(
        "/graphql",
        params={"query": "query Me { viewer { role } }", "variables": '{"secret": "s3cr3t"}'},
        headers={"authorization": "Bearer iek_not-a-real-key"},
    )
    assert response.status_code == 200
    [line] = [line for line in capsys.readouterr().err.splitlines() if "ideaengine.http" in line]
    match = TEXT_LINE.match(line)
    assert match is not None, line
    assert match["id"] == response.headers["x-request-id"]
    assert "s3cr3t" not in line and "iek_" not in line and "query" not in line


async def test_json_lines_carry_the_callers_request_id_and_count_graphql_errors(
    configured: None, app_client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("INFO", "json")
    response = await app_client.post(
        "/graphql",
        json={"query": "query Broken { viewer { nosuchfield } }", "operationName": "Broken"},
        headers={"x-request-id": "edge-42"},
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "edge-42"
    [line] = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "ideaengine.http" in line]
    assert set(line) == {"time", "level", "logger", "message", "requestId", "status", "ms", "operation", "errors"}
    assert (line["level"], line["message"], line["requestId"], line["status"]) == (
        "INFO",
        "POST /graphql",
        "edge-42",
        200,
    )
    assert (line["operation"], line["errors"]) == ("-", 1)  # it failed validation: nothing was executed


async def test_an_unsafe_request_id_is_replaced(
    configured: None, app_client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("INFO", "text")
    response = await app_client.get("/healthz", headers={"x-request-id": "a b\tc" + "x" * 100})
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"])


def test_serve_writes_nothing_but_json_lines_with_log_format_json(templates: Any, tmp_path: Path) -> None:
    from tests.conftest import new_database

    url, drop = new_database(templates, "sqlite", tmp_path)
    server = Server(server_env(url, IDEAENGINE_LOG_FORMAT="json", IDEAENGINE_LOG_LEVEL="INFO"), tmp_path, "server")
    try:
        import asyncio

        asyncio.run(server.ready())
        httpx.post(server.url + "/graphql", json={"query": "query Ping { __typename }"}, timeout=10)
        deadline = time.monotonic() + 10
        while "POST /graphql" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
        drop()
    lines = [json.loads(line) for line in server.output().splitlines() if line.strip()]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # the server's own lines too
    [request] = [line for line in lines if line["message"] == "POST /graphql"]
    assert (request["operation"], request["errors"], request["status"]) == ("Ping", 0, 200)


def test_a_bad_log_format_is_one_line_naming_the_variable() -> None:
    script = Path(sys.executable).parent / "ideaengine"
    result = subprocess.run(
        [str(script), "export-schema"],
        env={"IDEAENGINE_LOG_FORMAT": "xml", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == "ideaengine: IDEAENGINE_LOG_FORMAT: Input should be 'text' or 'json'\n"
