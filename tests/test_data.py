import pytest

from model_training.data import DataError, load_dataset


def test_jsonl_trains_a_head_per_label_column(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"id": 1, "text": "甲", "stance": "neutral", "topic": "other"}\n\n'
        '{"text": "乙", "stance": "critical", "topic": "society", "x": 1}\n',
        encoding="utf-8",
    )
    data = load_dataset(path)
    assert data.heads == ["stance", "topic"]
    assert data.texts == ["甲", "乙"] and data.ids == ["1", None]
    assert len(data.sha256) == 64


def test_csv_and_tsv_with_header(tmp_path):
    (tmp_path / "d.csv").write_text('text,sentiment\n"好，很好",positive\n壞,negative\n', encoding="utf-8")
    (tmp_path / "d.tsv").write_text("text\tsentiment\n好\tpositive\n", encoding="utf-8")
    assert load_dataset(tmp_path / "d.csv").labels == {"sentiment": ["positive", "negative"]}
    assert load_dataset(tmp_path / "d.tsv").texts == ["好"]


def test_public_formats(tmp_path):
    (tmp_path / "n.tsv").write_text(
        'id\ttarget\ttext\tstance\n1\tiPhone SE\t"好"用\tFAVOR\n', encoding="utf-8"
    )
    (tmp_path / "c.tsv").write_text("酒店很好\tpositive\n", encoding="utf-8")
    (tmp_path / "t.tsv").write_text("油价上涨\tnews_finance\n", encoding="utf-8")
    nlpcc = load_dataset(tmp_path / "n.tsv", "nlpcc2016")
    assert nlpcc.heads == ["stance"] and nlpcc.targets == ["iPhone SE"] and nlpcc.texts == ['"好"用']
    assert load_dataset(tmp_path / "c.tsv", "chnsenticorp").labels == {"label": ["positive"]}
    assert load_dataset(tmp_path / "t.tsv", "tnews").labels == {"label": ["news_finance"]}


@pytest.mark.parametrize(
    ("name", "content", "fmt", "message"),
    [
        (
            "bad.jsonl",
            '{"text": "a", "stance": "neutral"}\n{"text": "b", "stance"\n',
            None,
            "bad.jsonl:2: invalid JSON",
        ),
        ("list.jsonl", "[1, 2]\n", None, "list.jsonl:1: expected a JSON object"),
        (
            "empty.jsonl",
            '{"text": " ", "stance": "neutral"}\n',
            None,
            "empty.jsonl:1: missing or empty 'text'",
        ),
        ("nolabel.jsonl", '{"text": "a"}\n', None, "nolabel.jsonl:1: no label column"),
        (
            "gap.jsonl",
            '{"text": "a", "stance": "x"}\n{"text": "b"}\n',
            None,
            "gap.jsonl:2: missing label stance",
        ),
        ("short.tsv", "好\n", "chnsenticorp", "short.tsv:1: expected 2 fields"),
        ("n.tsv", "id\ttarget\ttext\tstance\n1\tx\ty\n", "nlpcc2016", "n.tsv:2: expected 4 fields"),
        ("none.jsonl", "", None, "no rows"),
    ],
)
def test_malformed_rows_name_the_line(tmp_path, name, content, fmt, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_dataset(path, fmt)


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="unknown format"):
        load_dataset(tmp_path, "xml")
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "nope.jsonl")
