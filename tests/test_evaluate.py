"""The evaluation report on a tiny artifact and a tiny labelled real-text file."""

import json
import shutil

from model_training.evaluate import evaluate, summary
from tests.conftest import MIXED, SIMPLIFIED, TRADITIONAL, write_jsonl


def test_report_scores_invariance_and_metadata(tmp_path, tiny_artifact):
    artifact = tmp_path / "artifact"
    shutil.copytree(tiny_artifact, artifact)
    dev = write_jsonl(
        tmp_path / "dev.jsonl",
        [
            {
                "id": "1",
                "text": TRADITIONAL,
                "stance": "critical",
                "topic": "military",
                "sentiment": "negative",
            },
            {"id": "2", "text": SIMPLIFIED, "stance": "neutral", "topic": "economy", "sentiment": "neutral"},
            {"id": "3", "text": MIXED, "stance": "neutral", "topic": "technology", "sentiment": "neutral"},
        ],
    )
    report = tmp_path / "report"
    figures = evaluate(artifact, report, dev)
    for head in ("stance", "topic", "sentiment"):
        scores = figures["dev"]["scores"][head]
        assert 0 <= scores["macro_f1"] <= 1 and sum(map(sum, scores["confusion"])) == 3
        assert 0 <= scores["calibration"]["ece"] <= 1
        for picture in (f"confusion_{head}.png", f"reliability_{head}.png"):
            assert (report / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    invariance = figures["dev"]["script_invariance"]
    assert set(invariance) == {"to_traditional_s2twp", "to_simplified_t2s"}
    assert all(0 <= r["all_heads"] <= 1 for r in invariance.values())
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "Cross-validated scores" in text and "Script invariance" in text and "confusion_stance.png" in text
    assert json.loads((report / "metrics.json").read_text(encoding="utf-8"))["dev"]["rows"] == 3
    # The figures reach the artifact's metadata, hence GET /model.
    metadata = json.loads((artifact / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["evaluation"]["dev"]["rows"] == 3
    assert "stance" in summary(figures)


def test_report_without_real_text_still_has_cross_validation(tmp_path, tiny_artifact):
    artifact = tmp_path / "artifact"
    shutil.copytree(tiny_artifact, artifact)
    figures = evaluate(artifact, tmp_path / "report", tmp_path / "absent.jsonl")
    assert "dev" not in figures and set(figures["cv"]) == {"stance", "topic", "sentiment"}
