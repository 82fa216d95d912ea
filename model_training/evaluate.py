"""Evaluate an artifact: cross-validated scores, real-text scores, script invariance, calibration.

``python -m model_training.evaluate --artifact DIR --report DIR [--dev FILE]`` writes
``report.md``, ``metrics.json`` and PNG plots into the report folder, prints the summary,
and records the figures in the artifact's ``metadata.json`` (so ``GET /model`` shows them).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import opencc

from model_training.artifact import METADATA_FILE, load_artifact, write_json_atomic
from model_training.metrics import classification_scores, expected_calibration_error
from model_training.model import MultiHeadModel

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEV_FILE = SHARED_DATA / "realnews" / "dev.jsonl"


def load_dev(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def score_rows(model: MultiHeadModel, rows: Sequence[dict]) -> dict:
    """Scores, calibration and probabilities of every head that the rows are labelled with."""
    heads = [head for head in model.heads if all(row.get(head) for row in rows)]
    probabilities = model.predict_proba([row["text"] for row in rows], heads)
    result = {}
    for head in heads:
        labels = model.labels(head)
        gold = [row[head] for row in rows]
        predicted = [labels[i] for i in probabilities[head].argmax(axis=1)]
        scores = classification_scores(gold, predicted, sorted(set(labels) | set(gold)))
        correct = np.asarray([g == p for g, p in zip(gold, predicted, strict=True)])
        scores["calibration"] = expected_calibration_error(probabilities[head].max(axis=1), correct)
        result[head] = scores
    return result


def script_invariance(model: MultiHeadModel, texts: Sequence[str]) -> dict:
    """Share of texts whose labels (every head) survive conversion to the other script."""
    original = model.predict(texts)
    result = {}
    for name, config in (("to_traditional_s2twp", "s2twp"), ("to_simplified_t2s", "t2s")):
        converter = opencc.OpenCC(config)
        converted = model.predict([converter.convert(text) for text in texts])
        per_head = {
            head: round(
                float(np.mean([a == b for a, b in zip(original[head], converted[head], strict=True)])), 4
            )
            for head in model.heads
        }
        unchanged = np.mean(
            [all(original[h][i] == converted[h][i] for h in model.heads) for i in range(len(texts))]
        )
        result[name] = {"all_heads": round(float(unchanged), 4), "per_head": per_head}
    return result


def plot_confusion(scores: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = scores["labels"], np.asarray(scores["confusion"])
    figure, axis = plt.subplots(figsize=(1.2 + 0.7 * len(labels), 1.0 + 0.6 * len(labels)))
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("gold")
    axis.set_title(title)
    for (i, j), value in np.ndenumerate(matrix):
        colour = "white" if value > matrix.max() / 2 else "black"
        axis.text(j, i, str(value), ha="center", va="center", color=colour)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_reliability(calibration: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4, 4))
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    bins = calibration["bins"]
    axis.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label="model")
    axis.set_xlabel("top-label score")
    axis.set_ylabel("accuracy")
    axis.set_title(f"{title} (ECE {calibration['ece']:.3f})")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def scores_table(scores: dict) -> str:
    lines = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, row in scores["per_class"].items():
        lines.append(
            f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |"
        )
    lines.append(f"| **macro-F1** | | | **{scores['macro_f1']:.3f}** | |")
    lines.append(f"| **accuracy** | | | **{scores['accuracy']:.3f}** | |")
    return "\n".join(lines)


def confusion_table(scores: dict) -> str:
    labels = scores["labels"]
    lines = ["| gold \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for label, row in zip(labels, scores["confusion"], strict=True):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def evaluate(artifact: str | Path, report: str | Path, dev: str | Path | None = DEV_FILE) -> dict:
    """Write the report folder and record its figures in the artifact's metadata."""
    model, metadata = load_artifact(artifact)
    report = Path(report)
    report.mkdir(parents=True, exist_ok=True)
    figures: dict = {"created": datetime.now(UTC).isoformat(timespec="seconds"), "cv": metadata["cv_scores"]}
    lines = [f"# Evaluation of {metadata['name']} {metadata['version']}", ""]
    lines += ["## Cross-validated scores on the training data (out-of-fold)", ""]
    lines += ["| head | macro-F1 | accuracy |", "|---|---|---|"]
    for head, scores in metadata["cv_scores"].items():
        lines.append(f"| {head} | {scores['macro_f1']:.3f} | {scores['accuracy']:.3f} |")
    dev = Path(dev) if dev else None
    if dev and dev.exists() and not metadata.get("target_aware"):
        rows = load_dev(dev)
        dev_scores = score_rows(model, rows)
        invariance = script_invariance(model, [row["text"] for row in rows])
        figures["dev"] = {
            "file": str(dev),
            "rows": len(rows),
            "scores": dev_scores,
            "script_invariance": invariance,
        }
        lines += ["", f"## Real text: {dev.name} ({len(rows)} paragraphs, never trained on)", ""]
        for head, scores in dev_scores.items():
            plot_confusion(scores, f"{head} on {dev.name}", report / f"confusion_{head}.png")
            plot_reliability(scores["calibration"], head, report / f"reliability_{head}.png")
            lines += [f"### {head}", "", scores_table(scores), "", confusion_table(scores), ""]
            lines += [f"![confusion](confusion_{head}.png) ![reliability](reliability_{head}.png)", ""]
            lines += [
                f"Expected calibration error of the top-label score: {scores['calibration']['ece']:.3f}",
                "",
            ]
        lines += ["## Script invariance (labels unchanged after conversion)", ""]
        lines += [
            "| conversion | all heads | " + " | ".join(model.heads) + " |",
            "|---" * (len(model.heads) + 2) + "|",
        ]
        for name, result in invariance.items():
            per_head = " | ".join(f"{result['per_head'][h]:.1%}" for h in model.heads)
            lines.append(f"| {name} | {result['all_heads']:.1%} | {per_head} |")
    (report / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_json_atomic(report / "metrics.json", figures)
    metadata["evaluation"] = figures
    write_json_atomic(Path(artifact) / METADATA_FILE, metadata)
    return figures


def summary(figures: dict) -> str:
    lines = ["head        cv macro-F1   dev macro-F1   dev accuracy   dev ECE"]
    dev = figures.get("dev", {}).get("scores", {})
    for head, cv in figures["cv"].items():
        d = dev.get(head)
        dev_part = (
            f"{d['macro_f1']:>12.4f}   {d['accuracy']:>12.4f}   {d['calibration']['ece']:>7.4f}"
            if d
            else "           -"
        )
        lines.append(f"{head:<10}  {cv['macro_f1']:>11.4f}   {dev_part}")
    if "stance" in dev and "critical" in dev["stance"]["per_class"]:
        lines.append(f"stance critical recall on dev: {dev['stance']['per_class']['critical']['recall']:.4f}")
    for name, result in figures.get("dev", {}).get("script_invariance", {}).items():
        lines.append(f"script invariance {name}: {result['all_heads']:.2%} of paragraphs keep every label")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", default="artifacts/default")
    parser.add_argument("--report", default=None, help="report folder (default reports/<artifact name>)")
    parser.add_argument("--dev", default=str(DEV_FILE), help="labelled real-text JSONL (skipped when absent)")
    args = parser.parse_args(argv)
    report = args.report or f"reports/{Path(args.artifact).name}"
    figures = evaluate(args.artifact, report, args.dev)
    print(summary(figures))
    print(f"report: {report}/report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
