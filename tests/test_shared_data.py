"""The loaders on the real public files of ../shared/data (skipped when it is absent)."""

import pytest

from model_training.data import load_dataset
from tests.conftest import SHARED_DATA

CASES = [
    ("nlpcc2016", 2986, "stance", {"FAVOR", "AGAINST", "NONE"}),
    ("chnsenticorp", 9600, "label", {"positive", "negative"}),
    ("tnews", 53360, "label", None),
]


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "rows", "head", "labels"), CASES)
def test_public_files_load(name, rows, head, labels):
    path = SHARED_DATA / name / "train.tsv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    data = load_dataset(path, name)
    assert len(data) == rows and data.heads == [head]
    if labels:
        assert set(data.labels[head]) == labels
    else:
        assert len(set(data.labels[head])) == 15 and all(v.startswith("news_") for v in data.labels[head])
    assert data.has_targets == (name == "nlpcc2016")
