"""Vectorised feature look-up: TF-IDF rows without a Python loop over n-grams.

``Analyzer`` emits every feature as a string (``"中国 经济"``, ``"#经济"``) and the
vectoriser looks each one up in a dictionary: hundreds of string joins and look-ups per
paragraph, most of the cost of classifying one. ``FeatureIndex`` reaches the same columns
with integer arithmetic over a whole batch at once:

- each word gets an integer id (one dictionary look-up per token), and a single character
  is its code point: both index a column array directly;
- a longer word n-gram is the number ``id1 * base + id2 …`` and a character bigram its code
  points packed into 21-bit fields, each tagged with its kind in the top bits; the codes of
  the vocabulary are sorted once, and a batch's codes are found with one ``searchsorted``;
- duplicate (row, column) pairs are counted after one sort, giving the term counts that
  sublinear tf, idf and l2 normalisation turn into the row, as ``TfidfVectorizer`` does.

Documents are separated by a sentinel that belongs to no vocabulary n-gram, so n-grams that
straddle two documents never match. The result equals ``TfidfVectorizer.transform`` (tested
on the corpus); documents with a target keep the string path (``runtime.LinearModel``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import numpy as np

from model_training.text import NON_WORD, normalize, tokenize

CODE_BITS = 21  # every Unicode code point is below 2**21
KIND_SHIFT = 58  # the kind of n-gram lives in the top bits of its integer code
WORD, CHAR = 0, 8  # kinds: WORD + n for word n-grams, CHAR + n for character n-grams


class FeatureIndex:
    """The vocabulary of a fitted ``Analyzer`` vectoriser, arranged for integer look-up."""

    def __init__(
        self, features: Sequence[str], idf: np.ndarray, word_ngrams: int, char_ngrams: tuple[int, int] | None
    ):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.n_features = len(features)
        self.idf = np.asarray(idf, dtype=np.float32)
        word_features: list[tuple[tuple[str, ...], int]] = []
        char_features: list[tuple[str, int]] = []
        for column, feature in enumerate(features):
            if feature.startswith("@"):
                continue  # target conjunctions: only documents with a target have them
            if feature.startswith("#"):
                char_features.append((feature[1:], column))
            else:
                word_features.append((tuple(feature.split(" ")), column))
        # Ids for every word that occurs in some word n-gram; the sentinel id marks both an
        # unknown word and the boundary between documents.
        vocabulary = sorted({word for words, _ in word_features for word in words})
        self.word_ids = {word: index for index, word in enumerate(vocabulary)}
        self.sentinel = len(vocabulary)
        self.base = self.sentinel + 1
        # Unigrams are found by direct indexing (word id -> column, code point -> column);
        # longer n-grams by binary search in one sorted array of codes.
        self.word_column = np.full(self.base, -1, dtype=np.int64)
        top = max((ord(chars) for chars, _ in char_features if len(chars) == 1), default=0)
        self.char_column = np.full(top + 2, -1, dtype=np.int64)  # the last slot: beyond ``top``
        codes, columns = [], []
        for words, column in word_features:
            if len(words) == 1:
                self.word_column[self.word_ids[words[0]]] = column
            else:
                codes.append(self._word_code(words))
                columns.append(column)
        for chars, column in char_features:
            if len(chars) == 1:
                self.char_column[ord(chars)] = column
            else:
                codes.append(self._char_code(chars))
                columns.append(column)
        if max(codes, default=0) >= 1 << 64:
            raise ValueError("n-grams too long for 64-bit codes")
        keys = np.asarray(codes, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.columns = np.asarray(columns, dtype=np.int64)[order]

    @classmethod
    def supports(cls, analyzer) -> bool:
        """Whether ``analyzer``'s features fit in 64-bit codes (word n ≤ 3, character n ≤ 2)."""
        char = getattr(analyzer, "char_ngrams", None)
        return getattr(analyzer, "word_ngrams", 9) <= 3 and (char is None or char[1] <= 2)

    def _word_code(self, words: tuple[str, ...]) -> int:
        code = 0
        for word in words:
            code = code * self.base + self.word_ids[word]
        return ((WORD + len(words)) << KIND_SHIFT) | code

    @staticmethod
    def _char_code(chars: str) -> int:
        code = 0
        for char in chars:
            code = (code << CODE_BITS) | ord(char)
        return ((CHAR + len(chars)) << KIND_SHIFT) | code

    def _ngrams(self, ids: np.ndarray, points: np.ndarray | None) -> tuple[list, list]:
        """Columns of the unigrams and codes of the longer n-grams of a stream of word ids and
        one of code points, in stream order: the n-gram starting at item ``i`` is item ``i``
        of its array. Word columns first, then character columns if the analyzer has them;
        word n-gram codes (n = 2 …) first, then character n-gram codes."""
        columns, codes = [self.word_column[ids]], []
        code = words = ids.astype(np.uint64)
        base = np.uint64(self.base)
        for n in range(2, self.word_ngrams + 1):
            code = code[:-1] * base + words[n - 1 :]
            codes.append(code | np.uint64((WORD + n) << KIND_SHIFT))
        if points is not None:
            low, high = self.char_ngrams
            if low == 1:
                columns.append(self.char_column[np.minimum(points, len(self.char_column) - 1)])
            code = chars = points.astype(np.uint64)
            shift = np.uint64(CODE_BITS)
            for n in range(2, high + 1):
                code = (code[:-1] << shift) | chars[n - 1 :]
                codes.append(code | np.uint64((CHAR + n) << KIND_SHIFT))
        return columns, codes

    def _search(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which of ``codes`` (sorted: the needles then walk the keys in order, with fewer
        cache misses) are vocabulary n-grams, and the columns of those that are."""
        position = np.minimum(np.searchsorted(self.keys, codes), len(self.keys) - 1)
        hit = self.keys[position] == codes
        return hit, self.columns[position[hit]]

    def _codes(self, token_lists: list[list[str]], normals: list[str]):
        """Columns of every unigram, and codes of every longer n-gram, with their rows."""
        stream: list[str | None] = []
        for tokens in token_lists:
            stream.extend(tokens)
            stream.append(None)  # the document boundary
        ids = np.fromiter(
            map(self.word_ids.get, stream, repeat(self.sentinel)), dtype=np.int64, count=len(stream)
        )
        word_rows = np.repeat(np.arange(len(token_lists)), [len(tokens) + 1 for tokens in token_lists])
        points = char_rows = None
        if self.char_ngrams:
            compact = [NON_WORD.sub("", text) for text in normals]
            # NON_WORD removed every "\0", so the joiner is a boundary no n-gram contains.
            points = np.frombuffer("\0".join(compact).encode("utf-32-le"), dtype=np.uint32)
            char_rows = np.repeat(np.arange(len(compact)), [len(text) + 1 for text in compact])[: len(points)]
        columns, codes = self._ngrams(ids, points)
        column_rows = [word_rows, char_rows][: len(columns)]
        words = self.word_ngrams - 1  # how many of ``codes`` are word n-gram codes
        code_rows = [word_rows[: len(code)] for code in codes[:words]]
        code_rows += [char_rows[: len(code)] for code in codes[words:]]
        return columns, column_rows, codes, code_rows

    def lookup(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The non-zero TF-IDF entries of ``texts``: ``(bounds, columns, values)``.

        Entries are sorted by row; row ``i`` owns ``columns[bounds[i]:bounds[i + 1]]``.
        Values are sublinear tf times idf, l2-normalised per row, as ``TfidfVectorizer``.
        """
        normals = [normalize(text) for text in texts]
        columns, column_rows, codes, code_rows = self._codes([tokenize(text) for text in normals], normals)
        if codes and len(self.keys):
            codes = np.concatenate(codes)
            # Sorted needles (a batch of 64 paragraphs: 12 µs a paragraph instead of 20, sort
            # included); the order carries each code's row along.
            order = np.argsort(codes)
            hit, found = self._search(codes[order])
            columns.append(found)
            column_rows.append(np.concatenate(code_rows)[order][hit])
        found = np.concatenate(columns)
        known = found >= 0
        found = found[known]
        if len(texts) > 1:
            found += np.concatenate(column_rows)[known] * self.n_features
        if len(texts) * self.n_features < 1 << 31:
            found = found.astype(np.int32)  # sorts in half the time of int64 (64 rows: 0.5 ms)
        keys, counts = count_distinct(found)
        # Keys are sorted, so each row's entries are one run: find the runs' bounds instead
        # of dividing every key by the number of features.
        bounds = np.searchsorted(keys, np.arange(len(texts) + 1, dtype=np.int64) * self.n_features)
        row_of = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(bounds))
        cols = (keys - row_of * self.n_features).astype(np.int32)
        return bounds.astype(np.int32), cols, tfidf_values(row_of, cols, counts, self.idf, len(texts))

    def lookup_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """``lookup`` of a single text: its ``(columns, values)``, columns in order.

        The same arithmetic as ``lookup`` without the row bookkeeping a batch needs: about
        forty numpy calls instead of ninety, whose fixed cost dominates for one short text
        (with ``LinearModel.predict_one``, single-paragraph ``classify`` calls went from
        2,403 to 3,403 a second in ``bench/speed.py`` section 1).
        """
        normal = normalize(text)
        get, sentinel = self.word_ids.get, self.sentinel
        ids = np.array([get(token, sentinel) for token in tokenize(normal)], dtype=np.int64)
        points = None
        if self.char_ngrams:
            points = np.frombuffer(NON_WORD.sub("", normal).encode("utf-32-le"), dtype=np.uint32)
        columns, codes = self._ngrams(ids, points)
        if codes and len(self.keys):
            codes = np.concatenate(codes)
            codes.sort()
            columns.append(self._search(codes)[1])
        found = np.concatenate(columns)
        cols, counts = count_distinct(found[found >= 0])
        cols = cols.astype(np.int32)
        return cols, tfidf_values(None, cols, counts, self.idf, 1)

    def transform(self, texts: Sequence[str]):
        """TF-IDF rows of ``texts`` as a sparse matrix, equal to the vectoriser's."""
        from scipy import sparse  # not needed to classify: the service never imports it

        bounds, cols, values = self.lookup(texts)
        return sparse.csr_matrix((values, cols, bounds), shape=(len(texts), self.n_features))


def tfidf_values(
    rows: np.ndarray | None, columns: np.ndarray, counts: np.ndarray, idf: np.ndarray, n_rows: int
) -> np.ndarray:
    """``TfidfVectorizer``'s values for term counts: sublinear tf times idf, l2 per row.

    ``rows`` (the row of each entry) is not needed when ``n_rows`` is 1: the one norm is a
    dot product, three numpy calls instead of eight.
    """
    values = (np.log(np.asarray(counts, dtype=np.float32)) + np.float32(1.0)) * idf[columns]
    if n_rows == 1:
        norm = np.sqrt(values @ values)
        if norm > 0:
            values /= norm
        return values
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=n_rows)).astype(np.float32)
    norms[norms == 0] = 1.0
    values /= norms[rows]
    return values


def count_distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ``values`` and how often each occurs (``np.unique`` with counts, for
    a few hundred values at a fraction of its per-call overhead)."""
    values = np.sort(values)
    if not len(values):
        return values, values
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    return values[starts], np.diff(starts, append=len(values))


def sparse_dot(
    bounds: np.ndarray, columns: np.ndarray, values: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """``rows @ weights`` for rows given as ``FeatureIndex.lookup`` entries, without scipy.

    One gather of the weight rows, then a segmented sum per document: for a handful of rows
    this is several times cheaper than building a scipy matrix and multiplying it.
    """
    n_rows = len(bounds) - 1
    out = np.zeros((n_rows, weights.shape[1]), dtype=np.float32)
    if len(columns):
        contributions = weights[columns] * values[:, None]
        filled = bounds[1:] > bounds[:-1]
        out[filled] = np.add.reduceat(contributions, bounds[:-1][filled], axis=0)
    return out
