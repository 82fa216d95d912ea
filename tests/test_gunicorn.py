"""The real gunicorn command of the container, on a free loopback port."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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


class Server:
    """A gunicorn process whose output goes to files: a full pipe would block its workers."""

    def __init__(self, model_dir: Path, port: int, **env) -> None:
        environment = {
            **os.environ,
            "MODEL_DIR": str(model_dir),
            "PORT": str(port),
            "WEB_CONCURRENCY": "2",
            **env,
        }
        self.folder = Path(tempfile.mkdtemp(prefix="gunicorn-"))
        with open(self.folder / "stdout", "w") as out, open(self.folder / "stderr", "w") as err:
            self.process = subprocess.Popen(
                container_command(), cwd=ROOT, env=environment, stdout=out, stderr=err
            )
        self.port = port

    @property
    def stdout(self) -> str:
        return (self.folder / "stdout").read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        return (self.folder / "stderr").read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def exit_code(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)


def start(model_dir: Path, port: int, **env) -> Server:
    return Server(model_dir, port, **env)


def wait_ready(server: Server, port: int, attempts: int = 300) -> None:
    for _ in range(attempts):
        if server.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {server.stderr}")
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
        process.stop()


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


def test_metrics_add_up_across_workers(server):
    def total() -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{server}/metrics", timeout=10) as response:
            text = response.read().decode()
        pattern = r"^classifier_paragraphs_total(?:\{\})? ([0-9.e+]+)$"
        return sum(float(v) for v in re.findall(pattern, text, flags=re.MULTILINE))

    before = total()
    for _ in range(12):
        assert request(server, "/classify", {"paragraphs": [SIMPLIFIED, TRADITIONAL]})[0] == 200
    # Whichever worker answers /metrics, it reports the samples of every worker.
    assert {total() - before for _ in range(4)} == {24.0}


def test_request_ids_are_echoed(server):
    req = urllib.request.Request(f"http://127.0.0.1:{server}/healthz", headers={"X-Request-ID": "trace-42"})
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.headers["X-Request-ID"] == "trace-42"


def damage_checksum(directory: Path) -> None:
    path = directory / "model.skops"
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")


def damage_truncate(directory: Path) -> None:
    path = directory / "model.skops"
    path.write_bytes(path.read_bytes()[:500])


def damage_version(directory: Path) -> None:
    from model_training.artifact import write_json_atomic

    metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    metadata["versions"]["scikit-learn"] = "0.0.1"
    write_json_atomic(directory / "metadata.json", metadata)


@pytest.mark.parametrize(
    ("damage", "check"),
    [
        (lambda d: shutil.rmtree(d), "'present'"),
        (damage_checksum, "'checksum'"),
        (damage_truncate, "'checksum'"),
        (damage_version, "'version'"),
        (lambda d: (d / "model.skops").unlink(), "'present'"),
    ],
    ids=["missing", "tampered", "truncated", "foreign-version", "model-file-missing"],
)
def test_a_bad_artifact_never_becomes_ready(tmp_path, tiny_artifact, damage, check):
    directory = tmp_path / "model"
    shutil.copytree(tiny_artifact, directory)
    damage(directory)
    server = start(directory, free_port())
    assert server.exit_code() != 0
    [line] = [line for line in server.stderr.splitlines() if line.startswith("error: cannot load model")]
    assert check in line
    server.stop()


def test_sighup_reloads_a_new_model_without_failing_a_request(tmp_path, tiny_artifact):
    from model_training.artifact import load_artifact, save_artifact

    directory = tmp_path / "model"
    shutil.copytree(tiny_artifact, directory)
    port = free_port()
    process = start(directory, port)
    failures, versions, stop = [], set(), threading.Event()

    def client_loop() -> None:
        while not stop.is_set():
            try:
                status, body = request(port, "/classify", {"text": SIMPLIFIED})
                if status != 200:
                    failures.append(status)
                else:
                    versions.add(body["model"]["version"])
            except (urllib.error.URLError, ConnectionError) as error:
                failures.append(repr(error))

    try:
        wait_ready(process, port)
        loop = threading.Thread(target=client_loop)
        loop.start()
        model, metadata = load_artifact(directory)
        save_artifact(model, {**metadata, "version": "test-2"}, directory)
        process.process.send_signal(signal.SIGHUP)
        for _ in range(300):
            if request(port, "/model")[1]["version"] == "test-2":
                break
            time.sleep(0.1)
        for _ in range(20):  # keep the loop running past the switch of every worker
            assert request(port, "/readyz")[0] == 200
        stop.set()
        loop.join(timeout=30)
        assert failures == []
        assert request(port, "/model")[1]["version"] == "test-2"
        assert "test-2" in versions
    finally:
        stop.set()
        process.stop()


def test_a_bad_artifact_on_sighup_keeps_the_old_model(tmp_path, tiny_artifact):
    directory = tmp_path / "model"
    shutil.copytree(tiny_artifact, directory)
    port = free_port()
    process = start(directory, port)
    try:
        wait_ready(process, port)
        damage_checksum(directory)
        process.process.send_signal(signal.SIGHUP)
        for _ in range(300):  # wait for the master to log its decision
            if "model reload refused" in process.stdout:
                break
            time.sleep(0.1)
        [line] = [line for line in process.stdout.splitlines() if "model reload refused" in line]
        assert "'checksum'" in line
        assert request(port, "/readyz")[0] == 200
        assert request(port, "/model")[1]["version"] == "test-1"
    finally:
        process.stop()
