"""How far can more training text move topic accuracy on the real-news dev set?

A diagnostic for issue 3, not a test and not part of the model: the shipped model never
sees the dev file. Here, for one experiment, the dev paragraphs themselves are added to
the training data. 5-fold cross-validation over the dev file (folds stratified by topic):
each fold's model is trained on the corpus plus the other four fifths of the dev file,
repeated ``w`` times (weight ``w``), and scored on the held-out fifth. Weight 0 is the corpus
alone; "dev only" trains on the four fifths without the corpus.

If in-domain, same-annotator paragraphs barely help, the remaining errors are not for
lack of corpus text of the right kind: they are what this model family (a linear model
over TF-IDF n-grams) cannot separate in this labelling.

    .venv/bin/python bench/topic_ceiling.py [--weights 0 1 3 10] [--head topic]

Prints one Markdown table. Reads ``../shared/data/realnews/dev.jsonl`` at run time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_training.corpus import load_corpus  # noqa: E402
from model_training.evaluate import DEV_FILE, load_dev  # noqa: E402
from model_training.model import fit_classifier, make_classifier, make_vectorizer  # noqa: E402
from model_training.text import Analyzer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=int, nargs="+", default=[0, 1, 3, 10])
    parser.add_argument("--head", default="topic", choices=["stance", "topic", "sentiment"])
    parser.add_argument("--artifact", type=Path, default=ROOT / "artifacts" / "default")
    args = parser.parse_args(argv)
    if not DEV_FILE.exists():
        print(f"error: {DEV_FILE} not found", file=sys.stderr)
        return 2
    # The shipped model's settings: its analyzer, and the C cross-validation chose for the head.
    metadata = json.loads((args.artifact / "metadata.json").read_text(encoding="utf-8"))
    hyper = metadata["hyperparameters"]
    c = float(hyper["C"][args.head])
    analyzer = Analyzer(2, (1, 2))
    if hyper["analyzer"] != repr(analyzer):
        print(f"error: artifact analyzer {hyper['analyzer']} is not {analyzer!r}", file=sys.stderr)
        return 2

    corpus = load_corpus()
    dev = load_dev(DEV_FILE)
    features: dict[str, list[str]] = {}

    def featurize(text: str) -> list[str]:
        if text not in features:
            features[text] = analyzer(text)
        return features[text]

    corpus_docs = [featurize(row["text"]) for row in corpus]
    corpus_y = np.asarray([row[args.head] for row in corpus])
    dev_docs = [featurize(row["text"]) for row in dev]
    dev_y = np.asarray([row[args.head] for row in dev])
    # Labels with fewer than five dev paragraphs (energy: 4) share the largest label's stratum.
    counts = {label: int((dev_y == label).sum()) for label in set(dev_y)}
    largest = max(counts, key=counts.get)
    strata = np.asarray([label if counts[label] >= 5 else largest for label in dev_y])
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(dev_docs, strata))

    rows = []
    for weight in [*args.weights, -1]:  # -1: the dev folds alone
        started = time.monotonic()
        predicted = np.empty(len(dev), dtype=object)
        for train_idx, test_idx in folds:
            extra = [dev_docs[i] for i in train_idx] * max(weight, 1)
            extra_y = np.concatenate([dev_y[train_idx]] * max(weight, 1))
            if weight < 0:
                docs, labels = extra, extra_y
            elif weight == 0:
                docs, labels = corpus_docs, corpus_y
            else:
                docs, labels = corpus_docs + extra, np.concatenate([corpus_y, extra_y])
            vectorizer = make_vectorizer(lambda doc: doc)
            matrix = vectorizer.fit_transform(docs)
            classifier = fit_classifier(make_classifier(c, hyper["class_weight"]), matrix, labels)
            predicted[test_idx] = classifier.predict(vectorizer.transform([dev_docs[i] for i in test_idx]))
        accuracy = float((predicted == dev_y).mean())
        name = (
            "dev folds only (no corpus)"
            if weight < 0
            else ("corpus only" if weight == 0 else f"corpus + other dev folds × {weight}")
        )
        rows.append((name, f"{accuracy:.3f}", f"{time.monotonic() - started:.0f} s"))
        print(f"[topic-ceiling] {name}: {accuracy:.3f}", file=sys.stderr, flush=True)

    print(f"## {args.head}: held-out dev accuracy, 5 folds over {len(dev)} dev paragraphs\n")
    print(
        f"Corpus {len(corpus):,} paragraphs; analyzer {analyzer!r}, C {c:g}, class_weight "
        f"{hyper['class_weight']} (the shipped model's settings).\n"
    )
    print("| training data | dev accuracy (out-of-fold) | time |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
