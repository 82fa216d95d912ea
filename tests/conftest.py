"""Fixtures: a real tiny model trained from a slice of the corpus, and the real app."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from model_training.corpus import load_corpus
from model_training.text import Analyzer
from model_training.train import Grid, train

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TINY_GRID = Grid(analyzers=[Analyzer(2, (1, 2))], c_values=[4.0])

TRADITIONAL = "北京近月頻繁派遣軍機逼近台灣防空識別區，分析人士認為意在恫嚇台北。"
SIMPLIFIED = "据海关数据，今年前十个月中俄双边贸易额同比增长百分之三。"
MIXED = "比亞迪（BYD）在匈牙利的新廠預計 2026 年投產，年產能約 15 萬輛，CEO 王傳福表示 EV 出口增長 3.5%。"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def corpus_rows() -> list[dict]:
    return load_corpus()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory, corpus_rows) -> Path:
    """Every fourth corpus paragraph: small, but with every label of every head."""
    rows = [
        {key: row[key] for key in ("id", "text", "stance", "topic", "sentiment")} for row in corpus_rows[::4]
    ]
    return write_jsonl(tmp_path_factory.mktemp("data") / "tiny.jsonl", rows)


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory, tiny_data) -> Path:
    directory = tmp_path_factory.mktemp("artifacts") / "tiny"
    train(tiny_data, directory, grid=TINY_GRID, folds=3, name="tiny", version="test-1")
    return directory


@pytest.fixture(scope="session")
def app(tiny_artifact):
    from service import create_app

    return create_app({"MODEL_DIR": str(tiny_artifact), "TESTING": True})


@pytest.fixture(scope="session")
def client(app):
    return app.test_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_port(tiny_artifact):
    """A real gunicorn, started with the container's command on a free loopback port."""
    from tests.serving import start, wait_ready

    port = free_port()
    server = start(tiny_artifact, port)
    try:
        wait_ready(server, port)
        yield port
    finally:
        server.stop()
