"""The model as the service runs it: numpy arrays, without scikit-learn.

Training fits scikit-learn objects (``model.MultiHeadModel``); what classifying needs of
them is a vocabulary, idf weights, and one weight matrix and bias per head. ``LinearModel``
holds exactly that, and ``save_serving`` / ``load_serving`` store it in the artifact's
``serving.npz`` (plain arrays, read with ``allow_pickle=False``: no code can hide in it).
The service loads only that file, so a worker never imports scikit-learn, scipy's solvers
or skops (~100 MB of memory per process), and starts faster.

Scores equal scikit-learn's ``predict_proba`` on the same input (tested).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model_training.features import FeatureIndex, sparse_dot, tfidf_values
from model_training.files import SERVING_FILE, ArtifactError, verify_artifact
from model_training.text import Analyzer

# A document: a text, or a (target, text) pair for models of stance toward a target.
Doc = str | tuple[str, str]


def _pack(features: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one UTF-8 byte array and the offsets that cut it back into strings."""
    encoded = [feature.encode("utf-8") for feature in features]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _unpack(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    data = blob.tobytes()
    bounds = offsets.tolist()
    return [data[start:end].decode("utf-8") for start, end in itertools.pairwise(bounds)]


class LinearModel:
    """Vocabulary, idf and the stacked weights of every head; ``predict_proba`` per head.

    ``heads`` maps each head to its labels, in the order of its probability columns.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        blob: np.ndarray,
        offsets: np.ndarray,
        idf: np.ndarray,
        heads: dict[str, list[str]],
        weights: np.ndarray,
        bias: np.ndarray,
    ):
        self.analyzer = analyzer
        self.heads = heads
        self.idf = np.asarray(idf, dtype=np.float32)
        # All heads' weights side by side: one gather per request serves every head.
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.slices = {}
        start = 0
        for head, labels in heads.items():
            width = 1 if len(labels) == 2 else len(labels)  # binary heads keep one score
            self.slices[head] = slice(start, start + width)
            start += width
        if start != self.weights.shape[1] or len(self.idf) != self.weights.shape[0]:
            raise ValueError("weights do not match the heads and the vocabulary")
        self._blob, self._offsets = blob, offsets
        self._vocabulary: dict[str, int] | None = None
        self.index = None
        if FeatureIndex.supports(analyzer):
            self.index = FeatureIndex(
                _unpack(blob, offsets), self.idf, analyzer.word_ngrams, analyzer.char_ngrams
            )

    @classmethod
    def from_fitted(cls, vectorizer, classifiers: dict) -> LinearModel:
        """From a fitted ``TfidfVectorizer`` and one ``LogisticRegression`` per head."""
        features = [""] * len(vectorizer.vocabulary_)
        for feature, column in vectorizer.vocabulary_.items():
            features[column] = feature
        blob, offsets = _pack(features)
        heads = {head: [str(label) for label in clf.classes_] for head, clf in classifiers.items()}
        weights = np.hstack([clf.coef_.T for clf in classifiers.values()])
        bias = np.concatenate([clf.intercept_ for clf in classifiers.values()])
        return cls(vectorizer.analyzer, blob, offsets, vectorizer.idf_, heads, weights, bias)

    def labels(self, head: str) -> list[str]:
        return self.heads[head]

    @property
    def vocabulary(self) -> dict[str, int]:
        """Feature → column, built on first use (only documents with a target need it)."""
        if self._vocabulary is None:
            features = _unpack(self._blob, self._offsets)
            self._vocabulary = {feature: column for column, feature in enumerate(features)}
        return self._vocabulary

    def _strings_lookup(self, docs: Sequence[Doc]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """TF-IDF entries through the analyzer's feature strings (any analyzer, any doc)."""
        bounds, columns, counts = [0], [], []
        vocabulary = self.vocabulary
        for doc in docs:
            for feature, count in Counter(self.analyzer(doc)).items():
                column = vocabulary.get(feature)
                if column is not None:
                    columns.append(column)
                    counts.append(count)
            bounds.append(len(columns))
        order_bounds = np.asarray(bounds, dtype=np.int64)
        cols = np.asarray(columns, dtype=np.int32)
        rows = np.repeat(np.arange(len(docs)), np.diff(order_bounds))
        values = tfidf_values(rows, cols, counts, self.idf, len(docs))
        # Columns sorted within each row, as in a canonical sparse matrix.
        order = np.lexsort((cols, rows))
        return order_bounds.astype(np.int32), cols[order], values[order]

    def lookup(self, docs: Sequence[Doc]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Non-zero TF-IDF entries of ``docs``: ``(bounds, columns, values)``, rows in order."""
        if self.index is not None and all(isinstance(doc, str) for doc in docs):
            return self.index.lookup(docs)
        return self._strings_lookup(docs)

    def vectorize(self, docs: Sequence[Doc]):
        """TF-IDF rows of ``docs`` as a scipy CSR matrix (equal to ``TfidfVectorizer``'s)."""
        from scipy import sparse

        bounds, columns, values = self.lookup(docs)
        return sparse.csr_matrix((values, columns, bounds), shape=(len(docs), len(self.idf)))

    def softmax(self, scores: np.ndarray, head: str) -> np.ndarray:
        """Probabilities of one head from its slice of the stacked scores."""
        scores = scores[:, self.slices[head]]
        if scores.shape[1] == 1:  # binary logistic regression: sigmoid of one score
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def proba(self, matrix, head: str) -> np.ndarray:
        """Probabilities of one head for rows already vectorised (a CSR matrix)."""
        return self.softmax(np.asarray(matrix @ self.weights) + self.bias, head)

    def predict_proba(self, docs: Sequence[Doc], heads: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Vectorise ``docs`` once and return every requested head's probabilities."""
        scores = sparse_dot(*self.lookup(docs), self.weights) + self.bias
        return {head: self.softmax(scores, head) for head in (heads or self.heads)}

    def predict_one(self, text: str, heads: Sequence[str] | None = None) -> dict[str, list[float]]:
        """Every requested head's probabilities for one text, as Python floats.

        A single paragraph is the common request: its scores are a dozen numbers, for which
        Python arithmetic is cheaper than numpy's per-call overhead. Equal to
        ``predict_proba([text])`` within float32 rounding (tested).
        """
        if self.index is None:
            return {head: probs[0].tolist() for head, probs in self.predict_proba([text], heads).items()}
        columns, values = self.index.lookup_one(text)
        scores = (values @ self.weights[columns] + self.bias).tolist()
        result = {}
        for head in heads or self.heads:
            part = scores[self.slices[head]]
            if len(part) == 1:  # binary logistic regression: sigmoid of one score
                positive = 1.0 / (1.0 + math.exp(-part[0]))
                result[head] = [1.0 - positive, positive]
            else:
                top = max(part)
                exps = [math.exp(score - top) for score in part]
                total = sum(exps)
                result[head] = [value / total for value in exps]
        return result

    def predict(self, docs: Sequence[Doc], heads: Sequence[str] | None = None) -> dict[str, list[str]]:
        return top_labels(self, docs, heads)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """What ``serving.npz`` stores of this model, under ``prefix``."""
        char = self.analyzer.char_ngrams or (0, 0)
        return {
            f"{prefix}analyzer": np.asarray([self.analyzer.word_ngrams, *char], dtype=np.int64),
            f"{prefix}features_blob": self._blob,
            f"{prefix}features_offsets": self._offsets,
            f"{prefix}idf": self.idf,
            f"{prefix}weights": self.weights,
            f"{prefix}bias": self.bias,
            f"{prefix}head_names": np.asarray(list(self.heads), dtype=str),
            f"{prefix}head_sizes": np.asarray(
                [len(labels) for labels in self.heads.values()], dtype=np.int64
            ),
            f"{prefix}labels": np.asarray(
                [label for labels in self.heads.values() for label in labels], dtype=str
            ),
        }

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> LinearModel:
        word_ngrams, char_low, char_high = arrays[f"{prefix}analyzer"].tolist()
        analyzer = Analyzer(word_ngrams, (char_low, char_high) if char_high else None)
        labels = arrays[f"{prefix}labels"].tolist()
        heads, start = {}, 0
        for name, size in zip(
            arrays[f"{prefix}head_names"].tolist(), arrays[f"{prefix}head_sizes"].tolist(), strict=True
        ):
            heads[name] = labels[start : start + size]
            start += size
        return cls(
            analyzer,
            arrays[f"{prefix}features_blob"],
            arrays[f"{prefix}features_offsets"],
            arrays[f"{prefix}idf"],
            heads,
            arrays[f"{prefix}weights"],
            arrays[f"{prefix}bias"],
        )


class TargetedLinear:
    """Stance toward a target: one model per target seen in training, and a target-aware
    fallback (target-conjoined features) for targets never seen."""

    def __init__(self, fallback: LinearModel, per_target: dict[str, LinearModel]):
        self.fallback = fallback
        self.per_target = per_target

    @property
    def heads(self) -> dict[str, list[str]]:
        return self.fallback.heads

    def labels(self, head: str) -> list[str]:
        return self.fallback.labels(head)

    def predict_proba(self, docs: Sequence[Doc], heads: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Route each (target, text) pair to its target's model; columns in ``labels`` order."""
        heads = list(heads or self.heads)
        result = {head: np.zeros((len(docs), len(self.labels(head))), dtype=np.float32) for head in heads}
        groups: dict[str | None, list[int]] = {}
        for index, doc in enumerate(docs):
            target = doc[0] if isinstance(doc, tuple) else None
            groups.setdefault(target if target in self.per_target else None, []).append(index)
        for target, indices in groups.items():
            if target is None:
                model, inputs = self.fallback, [docs[i] for i in indices]
            else:
                model, inputs = self.per_target[target], [docs[i][1] for i in indices]
            for head, probs in model.predict_proba(inputs, heads).items():
                columns = [self.labels(head).index(label) for label in model.labels(head)]
                result[head][np.ix_(indices, columns)] = probs
        return result

    def predict(self, docs: Sequence[Doc], heads: Sequence[str] | None = None) -> dict[str, list[str]]:
        return top_labels(self, docs, heads)


def top_labels(model, docs: Sequence[Doc], heads: Sequence[str] | None) -> dict[str, list[str]]:
    """The most probable label of every requested head for each document, for any model kind."""
    result = {}
    for head, probs in model.predict_proba(docs, heads).items():
        labels = model.labels(head)
        result[head] = [labels[i] for i in probs.argmax(axis=1)]
    return result


def serving_arrays(model: LinearModel | TargetedLinear) -> dict[str, np.ndarray]:
    """What ``serving.npz`` holds: part 0 is the model (or the fallback), then one per target."""
    parts = (
        [("", model)] if isinstance(model, LinearModel) else [("", model.fallback), *model.per_target.items()]
    )
    arrays = {"targets": np.asarray([target for target, _ in parts], dtype=str)}
    for number, (_, part) in enumerate(parts):
        arrays.update(part.arrays(f"{number}."))
    return arrays


def serving_digest(model: LinearModel | TargetedLinear) -> str:
    """SHA-256 of the model's content (names, types, shapes and bytes of its arrays).

    The file's own checksum cannot name a model: ``np.savez`` stamps its zip entries with
    the time. This digest is the same for the same model and differs for any other.
    """
    digest = hashlib.sha256()
    for name, array in sorted(serving_arrays(model).items()):
        array = np.ascontiguousarray(array)
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_serving(model: LinearModel | TargetedLinear, path: Path) -> None:
    """Write ``serving.npz`` (``serving_arrays``)."""
    with open(path, "wb") as handle:
        np.savez(handle, **serving_arrays(model))


def load_serving(directory: str | Path) -> tuple[LinearModel | TargetedLinear, dict]:
    """Verify the artifact (checksums, versions) and load its serving arrays."""
    directory = Path(directory)
    metadata = verify_artifact(directory)
    if SERVING_FILE not in (metadata.get("files") or {}):
        raise ArtifactError(
            f"artifact check 'metadata' failed: {directory} has no {SERVING_FILE}; "
            "retrain it with this version of the project"
        )
    path = directory / SERVING_FILE
    try:
        # allow_pickle=False: an object array (the only way to smuggle code) is refused.
        with np.load(path, allow_pickle=False) as arrays:
            targets = arrays["targets"].tolist()
            parts = [LinearModel.from_arrays(arrays, f"{number}.") for number in range(len(targets))]
    except Exception as exc:  # a damaged file can fail anywhere inside numpy's reader
        raise ArtifactError(f"artifact check 'load' failed: {path}: {exc}") from None
    if len(parts) == 1:
        return parts[0], metadata
    return TargetedLinear(parts[0], dict(zip(targets[1:], parts[1:], strict=True))), metadata
