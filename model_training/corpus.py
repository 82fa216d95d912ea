"""The project's annotated corpus: loading, validation, near-duplicate search and report.

Run ``python -m model_training.corpus`` to print the distribution tables and every
problem found (exit status 1 when there is one).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import opencc

from model_training.data import read_jsonl
from model_training.labels import GENRES, HARD_CASES, LABELS, MAIN_TOPICS, SCRIPTS, STANCES

CORPUS_DIR = Path(__file__).parent / "corpus"
MIN_CHARS = 15
MAX_CHARS = 400
SHINGLE = 5
MAX_JACCARD = 0.5
REQUIRED_FIELDS = ("id", "text", "stance", "topic", "sentiment", "script", "genre")

# The distribution minimums of the full corpus (issue 3).
MIN_PER_STANCE = 900
MIN_PER_MAIN_TOPIC = 250
MIN_OTHER_TOPIC = 60
MIN_PER_SENTIMENT = 600
MIN_SCRIPT_SHARE = 0.40
MIN_SCRIPT_SHARE_PER_STANCE = 0.35
MIN_GENRES = 6
MIN_GENRE_SHARE = 0.05
MIN_HARD_SHARE = 0.15
MEDIAN_RANGE = (80, 200)


def corpus_files(directory: Path = CORPUS_DIR) -> list[Path]:
    """Return the corpus shards, sorted so that loading order is stable."""
    return sorted(directory.rglob("*.jsonl"))


def load_corpus(directory: Path = CORPUS_DIR) -> list[dict]:
    """Read every shard under ``directory``; each row remembers its file and line."""
    rows = []
    for path in corpus_files(directory):
        with path.open(encoding="utf-8") as handle:
            for number, row in read_jsonl(handle, path.name):
                row["_where"] = f"{path.name}:{number}"
                rows.append(row)
    return rows


@lru_cache(maxsize=1)
def _characters_t2s() -> opencc.OpenCC:
    # Characters only (t2s), not vocabulary (tw2sp): the question is which script, not which region.
    return opencc.OpenCC("t2s")


def script_mismatch(text: str, script: str) -> bool:
    """Tell whether ``text`` is visibly not written in ``script``."""
    changed = sum(a != b for a, b in zip(text, _characters_t2s().convert(text), strict=False))
    if script == "hant":
        return changed == 0 and len(text) >= 30
    return changed > 1


def validate_rows(rows: Sequence[dict]) -> list[str]:
    """Return one message per schema or label problem."""
    problems = []
    seen_ids: dict[str, str] = {}
    for row in rows:
        where = row.get("_where", "?")
        missing = [field for field in REQUIRED_FIELDS if not row.get(field)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if row["id"] in seen_ids:
            problems.append(f"{where}: id {row['id']} already used at {seen_ids[row['id']]}")
        seen_ids[row["id"]] = where
        for head, allowed in LABELS.items():
            if row[head] not in allowed:
                problems.append(f"{where}: {head} {row[head]!r} is not one of {allowed}")
        if row["script"] not in SCRIPTS:
            problems.append(f"{where}: script {row['script']!r} is not one of {SCRIPTS}")
        elif script_mismatch(row["text"], row["script"]):
            problems.append(f"{where}: text does not look like script {row['script']}")
        if row["genre"] not in GENRES:
            problems.append(f"{where}: genre {row['genre']!r} is not one of {GENRES}")
        if row.get("hard") not in (None, *HARD_CASES):
            problems.append(f"{where}: hard {row['hard']!r} is not one of {HARD_CASES}")
        if not MIN_CHARS <= len(row["text"]) <= MAX_CHARS:
            problems.append(f"{where}: {len(row['text'])} characters, outside {MIN_CHARS}-{MAX_CHARS}")
    return problems


def shingles(text: str, size: int = SHINGLE) -> frozenset[str]:
    """Character n-grams of the text with white space removed."""
    compact = "".join(text.split())
    if len(compact) < size:
        return frozenset([compact])
    return frozenset(compact[i : i + size] for i in range(len(compact) - size + 1))


def near_duplicates(texts: Sequence[str], threshold: float = MAX_JACCARD) -> list[tuple[int, int, float]]:
    """Find every pair whose character 5-gram Jaccard similarity is at least ``threshold``.

    Exact, not sampled: an inverted index counts the shared shingles of every pair that
    shares any, so the cost grows with the overlap, not with the square of the corpus.
    """
    sets = [shingles(text) for text in texts]
    postings: dict[str, list[int]] = defaultdict(list)
    for index, grams in enumerate(sets):
        for gram in grams:
            postings[gram].append(index)
    pairs = []
    for i, grams in enumerate(sets):
        shared: Counter[int] = Counter()
        for gram in grams:
            for j in postings[gram]:
                if j > i:
                    shared[j] += 1
        size_i = len(grams)
        for j, common in shared.items():
            # Jaccard = common / union; skip the division when it cannot reach the threshold.
            union = size_i + len(sets[j]) - common
            if common >= threshold * union:
                pairs.append((i, j, common / union))
    return pairs


def distribution_problems(rows: Sequence[dict]) -> list[str]:
    """Check the corpus against the minimums of issue 3."""
    problems = []
    total = len(rows)
    if not total:
        return ["the corpus is empty"]
    count = Counter
    stance = count(row["stance"] for row in rows)
    for label in STANCES:
        if stance[label] < MIN_PER_STANCE:
            problems.append(f"stance {label}: {stance[label]} < {MIN_PER_STANCE}")
    topic = count(row["topic"] for row in rows)
    for label in MAIN_TOPICS:
        if topic[label] < MIN_PER_MAIN_TOPIC:
            problems.append(f"topic {label}: {topic[label]} < {MIN_PER_MAIN_TOPIC}")
    if topic["other"] < MIN_OTHER_TOPIC:
        problems.append(f"topic other: {topic['other']} < {MIN_OTHER_TOPIC}")
    sentiment = count(row["sentiment"] for row in rows)
    for label in LABELS["sentiment"]:
        if sentiment[label] < MIN_PER_SENTIMENT:
            problems.append(f"sentiment {label}: {sentiment[label]} < {MIN_PER_SENTIMENT}")
    script = count(row["script"] for row in rows)
    for label in SCRIPTS:
        if script[label] / total < MIN_SCRIPT_SHARE:
            problems.append(f"script {label}: {script[label] / total:.1%} < {MIN_SCRIPT_SHARE:.0%}")
        for label_stance in STANCES:
            within = [row for row in rows if row["stance"] == label_stance]
            share = sum(row["script"] == label for row in within) / max(len(within), 1)
            if share < MIN_SCRIPT_SHARE_PER_STANCE:
                problems.append(
                    f"script {label} within {label_stance}: {share:.1%} < {MIN_SCRIPT_SHARE_PER_STANCE:.0%}"
                )
    genre = count(row["genre"] for row in rows)
    big_genres = [g for g in GENRES if genre[g] / total >= MIN_GENRE_SHARE]
    if len(big_genres) < MIN_GENRES:
        problems.append(f"only {len(big_genres)} genres reach {MIN_GENRE_SHARE:.0%}: {big_genres}")
    for g in big_genres:
        stances_of_genre = count(row["stance"] for row in rows if row["genre"] == g)
        if len(stances_of_genre) < len(STANCES):
            problems.append(f"genre {g} lacks a stance: {dict(stances_of_genre)}")
    hard = sum(1 for row in rows if row.get("hard"))
    if hard / total < MIN_HARD_SHARE:
        problems.append(f"hard cases: {hard / total:.1%} < {MIN_HARD_SHARE:.0%}")
    median = statistics.median(len(row["text"]) for row in rows)
    if not MEDIAN_RANGE[0] <= median <= MEDIAN_RANGE[1]:
        problems.append(f"median length {median} outside {MEDIAN_RANGE}")
    return problems


def crosstab(rows: Iterable[dict], row_key: str, column_key: str) -> str:
    """Render a Markdown table counting ``row_key`` values against ``column_key`` values."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    columns: Counter[str] = Counter()
    for row in rows:
        table[row[row_key] or "-"][row[column_key] or "-"] += 1
        columns[row[column_key] or "-"] += 1
    names = sorted(columns)
    lines = [
        f"| {row_key} \\ {column_key} | " + " | ".join(names) + " | total |",
        "|---" * (len(names) + 2) + "|",
    ]
    for key in sorted(table):
        cells = [str(table[key][name]) for name in names]
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {sum(table[key].values())} |")
    lines.append("| total | " + " | ".join(str(columns[n]) for n in names) + f" | {sum(columns.values())} |")
    return "\n".join(lines)


def length_table(rows: Sequence[dict]) -> str:
    """Render length statistics per stance as a Markdown table."""
    lines = ["| stance | n | min | median | mean | max |", "|---|---|---|---|---|---|"]
    for label in (*STANCES, "all"):
        lengths = [len(r["text"]) for r in rows if label in ("all", r["stance"])]
        if lengths:
            lines.append(
                f"| {label} | {len(lengths)} | {min(lengths)} | {statistics.median(lengths):g} "
                f"| {statistics.fmean(lengths):.0f} | {max(lengths)} |"
            )
    return "\n".join(lines)


def report(rows: Sequence[dict]) -> str:
    """The corpus tables printed by ``make corpus-report``."""
    for row in rows:
        row.setdefault("hard", None)
    sections = [
        f"## Corpus: {len(rows)} paragraphs",
        crosstab(rows, "stance", "script"),
        crosstab(rows, "topic", "script"),
        crosstab(rows, "sentiment", "script"),
        crosstab(rows, "stance", "genre"),
        crosstab(rows, "topic", "stance"),
        crosstab(rows, "sentiment", "stance"),
        crosstab(rows, "hard", "stance"),
        length_table(rows),
    ]
    return "\n\n".join(sections)


def check(rows: Sequence[dict], *, distribution: bool = True) -> list[str]:
    """Every problem of the corpus: schema, labels, near-duplicates, distribution."""
    problems = validate_rows(rows)
    texts = [row.get("text", "") for row in rows]
    for i, j, score in near_duplicates(texts):
        problems.append(f"near-duplicate ({score:.2f}): {rows[i]['_where']} ~ {rows[j]['_where']}")
    if distribution and not problems:
        problems.extend(distribution_problems(rows))
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=CORPUS_DIR, help="corpus folder")
    parser.add_argument(
        "--no-distribution", action="store_true", help="skip the issue-3 minimums (for one shard)"
    )
    parser.add_argument(
        "--only", metavar="SHARD", help="report on one shard (file stem); duplicates still span all"
    )
    args = parser.parse_args(argv)
    rows = load_corpus(args.dir)
    if args.only:
        mine = [row for row in rows if row["_where"].startswith(args.only + ".jsonl:")]
        print(report(mine))
        problems = [p for p in check(rows, distribution=False) if args.only + ".jsonl:" in p]
    else:
        print(report(rows))
        problems = check(rows, distribution=not args.no_distribution)
    for problem in problems:
        print("PROBLEM", problem)
    print(f"\n{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
