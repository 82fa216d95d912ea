"""The real gunicorn command of the container, on a free loopback port."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import MIXED, SIMPLIFIED, TRADITIONAL, free_port

ROOT = Path(__file__).resolve().parents[1]


def container_command() -> list[str]:
    """The CMD of the Dockerfile: the tests start exactly what the container starts."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.MULTILINE)
    command = json.loads(cmd)
    # Resolve the executable in this environment, as the container's PATH does.
    command[0] = str(Path(sys.executable).with_name(command[0]))
    return command


def request(port: int, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def start(model_dir: Path, port: int, **env) -> subprocess.Popen:
    environment = {
        **os.environ,
        "MODEL_DIR": str(model_dir),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        **env,
    }
    return subprocess.Popen(
        container_command(),
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(process: subprocess.Popen, port: int, attempts: int = 300) -> None:
    for _ in range(attempts):
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {process.stderr.read()}")
        try:
            if request(port, "/readyz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise AssertionError("gunicorn did not become ready")


@pytest.fixture(scope="module")
def server(tiny_artifact):
    port = free_port()
    process = start(tiny_artifact, port)
    try:
        wait_ready(process, port)
        yield port
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_end_to_end_article_over_http(server):
    status, body = request(server, "/classify", {"article": "\n".join([TRADITIONAL, SIMPLIFIED, MIXED])})
    assert status == 200
    assert len(body["results"]) == 3
    assert all(set(r["predictions"]) == {"stance", "topic", "sentiment"} for r in body["results"])
    assert body["summary"]["paragraphs"] == 3


def test_errors_over_http_are_json(server):
    status, body = request(server, "/classify", {"text": ""})
    assert status == 422 and body["code"] == 422
    status, body = request(server, "/nowhere")
    assert status == 404 and body["code"] == 404


def test_many_requests_across_workers(server):
    for index in range(20):
        status, body = request(server, "/classify", {"paragraphs": [SIMPLIFIED] * (index + 1)})
        assert status == 200 and len(body["results"]) == index + 1


def test_a_missing_model_exits_with_a_clear_message(tmp_path):
    process = start(tmp_path / "missing", free_port())
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "cannot load model" in stderr and "does not exist" in stderr
