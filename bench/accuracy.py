"""Public benchmarks through the project's own commands, next to the published results.

``make benchmark-accuracy`` (or ``python bench/accuracy.py [--only NAME]``) trains each data
set of ``../shared/data`` with ``make train DATA=… FORMAT=… ARTIFACT=…`` — the command a
user runs — and prints one Markdown table: our cross-validated score (5-fold, out-of-fold
predictions on the training file; hyper-parameters chosen by the same cross-validation on
the training file only), the published figures, the target, training time and artifact size.
This is a benchmark script, not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Benchmark:
    name: str
    path: str
    metric: str
    published: str
    target: float


BENCHMARKS = [
    Benchmark(
        "nlpcc2016",
        "nlpcc2016/train.tsv",
        "mean F1(FAVOR, AGAINST)",
        "best team 0.7106 (RUC_MMC); median of 16 teams ≈ 0.65 (official test set)",
        0.72,
    ),
    Benchmark(
        "chnsenticorp",
        "chnsenticorp/train.tsv",
        "accuracy",
        "Senta dev: BOW 0.898–0.903, CNN ≈ 0.90, LSTM ≈ 0.91, ERNIE 0.945–0.951",
        0.93,
    ),
    Benchmark(
        "tnews",
        "tnews/train.tsv",
        "accuracy",
        "CLUE dev: BERT-base ≈ 0.566, RoBERTa-wwm-ext-large 0.595",
        0.575,
    ),
]


def score(benchmark: Benchmark, metadata: dict) -> float:
    [cv] = metadata["cv_scores"].values()
    if benchmark.metric.startswith("mean F1"):
        return (cv["per_class"]["FAVOR"]["f1"] + cv["per_class"]["AGAINST"]["f1"]) / 2
    return cv["accuracy"]


def run(benchmark: Benchmark, folder: Path) -> dict:
    artifact = folder / benchmark.name
    command = [
        "make",
        "--no-print-directory",
        "train",
        f"DATA={SHARED / benchmark.path}",
        f"FORMAT={benchmark.name}",
        f"ARTIFACT={artifact}",
    ]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    metadata = json.loads((artifact / "metadata.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in artifact.iterdir())
    return {
        "command": " ".join(command[2:]),
        "score": score(benchmark, metadata),
        "seconds": seconds,
        "megabytes": size / 1e6,
        "rows": metadata["training_data"]["rows"],
        "hyperparameters": f"{metadata['hyperparameters']['analyzer']}, C={metadata['hyperparameters']['C']}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[b.name for b in BENCHMARKS], action="append")
    args = parser.parse_args(argv)
    if not SHARED.exists():
        print(f"{SHARED} is absent: nothing to benchmark")
        return 0
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-") as folder:
        for benchmark in chosen:
            print(f"training {benchmark.name} …", file=sys.stderr, flush=True)
            rows.append((benchmark, run(benchmark, Path(folder))))
    print(
        "| data set | rows | metric | ours (5-fold CV) | target | met | published | train time | artifact |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for benchmark, result in rows:
        met = "yes" if result["score"] >= benchmark.target else "no"
        print(
            f"| {benchmark.name} | {result['rows']:,} | {benchmark.metric} | {result['score']:.4f} "
            f"| ≥ {benchmark.target} | {met} | {benchmark.published} | {result['seconds']:.0f} s "
            f"| {result['megabytes']:.1f} MB |"
        )
    print()
    for benchmark, result in rows:
        print(f"- {benchmark.name}: `{result['command']}` → {result['hyperparameters']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
