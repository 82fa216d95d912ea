"""The loaded model and what the API asks of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_training.runtime import LinearModel, TargetedLinear, load_serving

STANCE = "stance"


@dataclass
class Classifier:
    """A verified artifact in memory; ``classify`` answers one request."""

    model: LinearModel | TargetedLinear
    metadata: dict
    directory: str

    @classmethod
    def load(cls, directory: str | Path) -> Classifier:
        model, metadata = load_serving(directory)
        # Load the OpenCC converters and the tokeniser's dictionary now, in the process that
        # gunicorn preloads, so that the workers share them instead of each loading its own
        # copy on its first request.
        model.predict_proba(["據海關數據，貿易額增長。", "据海关数据，贸易额增长。"])
        return cls(model=model, metadata=metadata, directory=str(directory))

    @property
    def heads(self) -> list[str]:
        return list(self.model.heads)

    @property
    def target_aware(self) -> bool:
        return bool(self.metadata.get("target_aware"))

    @property
    def ref(self) -> dict:
        return {"name": self.metadata["name"], "version": self.metadata["version"]}

    def classify(
        self,
        paragraphs: Sequence[str],
        heads: Sequence[str] | None = None,
        targets: str | Sequence[str] | None = None,
    ) -> tuple[list[dict], dict[str, np.ndarray]]:
        """Results per paragraph in order, and each head's probability matrix.

        ``targets`` (one for all paragraphs, or one each) is used by target-aware models only.
        """
        if isinstance(targets, str):
            targets = [targets] * len(paragraphs)
        if targets is not None and self.target_aware:
            docs = list(zip(targets, paragraphs, strict=True))
        else:
            docs = list(paragraphs)
        heads = list(heads or self.heads)
        if len(docs) == 1 and isinstance(docs[0], str) and isinstance(self.model, LinearModel):
            return self._classify_one(docs[0], heads)
        probabilities = self.model.predict_proba(docs, heads)
        # Per head, computed on whole matrices: the top label and the rounded scores (as
        # Python floats) of every paragraph, each paragraph's scores already a dictionary.
        columns = []
        for head in heads:
            labels = self.model.labels(head)
            matrix = probabilities[head]
            top = [labels[i] for i in matrix.argmax(axis=1).tolist()]
            scores = [
                dict(zip(labels, row, strict=True)) for row in np.round(matrix.astype(np.float64), 4).tolist()
            ]
            columns.append((head, top, scores))
        results = [
            {
                "index": index,
                "characters": len(text),
                "predictions": {
                    head: {"label": top[index], "scores": scores[index]} for head, top, scores in columns
                },
            }
            for index, text in enumerate(paragraphs)
        ]
        return results, probabilities

    def _classify_one(self, text: str, heads: list[str]) -> tuple[list[dict], dict[str, np.ndarray]]:
        """``classify`` of a single paragraph, the most common request, in Python floats."""
        predictions = {}
        probabilities = self.model.predict_one(text, heads)
        for head, probs in probabilities.items():
            labels = self.model.labels(head)
            best = max(range(len(probs)), key=probs.__getitem__)
            predictions[head] = {
                "label": labels[best],
                "scores": {label: round(p, 4) for label, p in zip(labels, probs, strict=True)},
            }
        matrices = {head: np.asarray([probs]) for head, probs in probabilities.items()}
        return [{"index": 0, "characters": len(text), "predictions": predictions}], matrices

    def summarize(self, paragraphs: Sequence[str], stance: np.ndarray) -> dict:
        """Share of paragraphs per stance label and the length-weighted stance distribution."""
        labels = self.model.labels(STANCE)
        top = stance.argmax(axis=1)
        weights = np.asarray([len(text) for text in paragraphs], dtype=float)
        weighted = (stance * weights[:, None]).sum(axis=0) / weights.sum()
        return {
            "paragraphs": len(paragraphs),
            "stance_share": {label: round(float((top == i).mean()), 4) for i, label in enumerate(labels)},
            "stance_weighted": {label: round(float(w), 4) for label, w in zip(labels, weighted, strict=True)},
        }
