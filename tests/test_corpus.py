"""The project's corpus: schema, labels, distribution minimums, no near-duplicates."""

import pytest

from model_training.corpus import (
    MAX_JACCARD,
    distribution_problems,
    near_duplicates,
    report,
    shingles,
    validate_rows,
)


def test_every_row_is_valid(corpus_rows):
    assert validate_rows(corpus_rows) == []


def test_the_distribution_meets_the_minimums(corpus_rows):
    assert distribution_problems(corpus_rows) == []


def test_no_near_duplicates(corpus_rows):
    pairs = near_duplicates([row["text"] for row in corpus_rows])
    described = [f"{corpus_rows[i]['_where']} ~ {corpus_rows[j]['_where']} ({s:.2f})" for i, j, s in pairs]
    assert described == []


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def test_near_duplicates_finds_exactly_the_pairs_over_the_threshold():
    texts = [
        "外交部发言人表示台湾是中国领土不可分割的一部分任何外部势力都无权干涉",
        "外交部发言人表示台湾是中国领土不可分割的一部分任何外部势力都无权插手",
        "据海关数据今年前十个月中俄双边贸易额同比增长百分之三",
        "据海关统计今年前九个月中俄双边贸易额同比下降百分之二",
        "短",
    ]
    expected = [
        (i, j)
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if jaccard(texts[i], texts[j]) >= MAX_JACCARD
    ]
    assert expected == [(0, 1)]
    assert [(i, j) for i, j, _ in near_duplicates(texts)] == expected
    [(_, _, score)] = near_duplicates(texts)
    assert score == pytest.approx(jaccard(texts[0], texts[1]))


def test_report_prints_the_tables(corpus_rows):
    text = report(corpus_rows)
    for title in ("stance \\ script", "stance \\ genre", "topic \\ stance", "| stance | n | min | median"):
        assert title in text
