import json
import subprocess
import sys

from service.__main__ import main
from tests.conftest import SIMPLIFIED, TRADITIONAL, write_jsonl


def test_predict_keeps_fields_and_adds_every_head(tmp_path, tiny_artifact):
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": i, "text": text, "target": "x"} for i, text in enumerate([TRADITIONAL, SIMPLIFIED] * 300)],
    )
    output = tmp_path / "out" / "result.jsonl"
    assert (
        main(
            [
                "predict",
                "--artifact",
                str(tiny_artifact),
                "--input",
                str(source),
                "--output",
                str(output),
                "--batch",
                "64",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == list(range(600))
    assert rows[0]["target"] == "x"
    for head in ("stance", "topic", "sentiment"):
        assert rows[0][head] == max(rows[0][f"{head}_scores"], key=rows[0][f"{head}_scores"].get)
    assert rows[0]["stance_scores"] == rows[2]["stance_scores"]


def test_predict_reports_a_bad_line_and_writes_nothing(tmp_path, tiny_artifact):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "好"}\n{"id": 2}\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "service",
            "predict",
            "--artifact",
            str(tiny_artifact),
            "--input",
            str(source),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "line:2" in completed.stderr
    assert list(tmp_path.iterdir()) == [source]
