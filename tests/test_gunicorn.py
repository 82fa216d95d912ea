"""The real gunicorn command of the container, on a free loopback port."""

from __future__ import annotations

import json
import re
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import MIXED, SIMPLIFIED, TRADITIONAL, free_port
from tests.serving import request, start, wait_ready


@pytest.fixture()
def server(live_port):
    return live_port


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


def test_metrics_name_the_model(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server}/metrics", timeout=10) as response:
        text = response.read().decode()
    # Written by the master while preloading: it must survive the metrics folder's cleaning.
    assert re.search(r'^classifier_model_info\{.*name="tiny".*version="test-1".*\} 1\.0$', text, re.MULTILINE)


def test_unknown_methods_share_one_metric_label(server):
    for method in ("BREW", "PROPFIND-X1", "PROPFIND-X2"):
        req = urllib.request.Request(f"http://127.0.0.1:{server}/classify", method=method)
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(req, timeout=10)
        error.value.close()
        assert error.value.code == 405
    with urllib.request.urlopen(f"http://127.0.0.1:{server}/metrics", timeout=10) as response:
        text = response.read().decode()
    methods = set(re.findall(r'^classifier_http_requests_total\{[^}]*method="([^"]*)"', text, re.MULTILINE))
    assert "other" in methods
    assert not methods & {"BREW", "PROPFIND-X1", "PROPFIND-X2"}


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


@pytest.fixture()
def own_server(tmp_path, tiny_artifact):
    """A server of this test's own, on a copy of the artifact that the test may replace."""
    directory = tmp_path / "model"
    shutil.copytree(tiny_artifact, directory)
    port = free_port()
    server = start(directory, port)
    try:
        wait_ready(server, port)
        yield directory, server, port
    finally:
        server.stop()


def test_sighup_reloads_a_new_model_without_failing_a_request(own_server):
    from model_training.artifact import load_artifact, save_artifact

    directory, server, port = own_server
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

    loop = threading.Thread(target=client_loop)
    loop.start()
    try:
        model, metadata = load_artifact(directory)
        save_artifact(model, {**metadata, "version": "test-2"}, directory)
        server.process.send_signal(signal.SIGHUP)
        for _ in range(300):
            if request(port, "/model")[1]["version"] == "test-2":
                break
            time.sleep(0.1)
        for _ in range(20):  # keep the loop running past the switch of every worker
            assert request(port, "/readyz")[0] == 200
    finally:
        stop.set()
        loop.join(timeout=30)
    assert failures == []
    assert request(port, "/model")[1]["version"] == "test-2"
    assert "test-2" in versions


def test_a_bad_artifact_on_sighup_keeps_the_old_model(own_server):
    directory, server, port = own_server
    damage_checksum(directory)
    server.process.send_signal(signal.SIGHUP)
    for _ in range(300):  # wait for the master to log its decision
        if "model reload refused" in server.stdout:
            break
        time.sleep(0.1)
    [line] = [line for line in server.stdout.splitlines() if "model reload refused" in line]
    assert "'checksum'" in line
    assert request(port, "/readyz")[0] == 200
    assert request(port, "/model")[1]["version"] == "test-1"
