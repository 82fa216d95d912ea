import json
import re

import numpy as np
import pytest
import skops.io as sio

from model_training.artifact import load_artifact, save_artifact
from model_training.data import load_dataset
from model_training.train import Grid, cross_validate, train
from tests.conftest import SIMPLIFIED, TINY_GRID, TRADITIONAL, write_jsonl


def test_artifact_has_model_and_complete_metadata(tiny_artifact, tiny_data):
    metadata = json.loads((tiny_artifact / "metadata.json").read_text(encoding="utf-8"))
    assert sorted(p.name for p in tiny_artifact.iterdir()) == ["metadata.json", "model.skops", "serving.npz"]
    assert metadata["name"] == "tiny" and metadata["version"] == "test-1" and metadata["created"]
    assert metadata["heads"]["stance"] == ["critical", "neutral", "pro_beijing"]
    assert set(metadata["heads"]) == {"stance", "topic", "sentiment"}
    data = load_dataset(tiny_data)
    assert metadata["training_data"]["sha256"] == data.sha256
    assert metadata["training_data"]["rows"] == len(data)
    for head in ("stance", "topic", "sentiment"):
        assert 0 < metadata["cv_scores"][head]["macro_f1"] <= 1
    assert metadata["hyperparameters"]["C"] == {"stance": 4.0, "topic": 4.0, "sentiment": 4.0}
    assert metadata["tokenizer"]["tokenizer"] == "rjieba"
    assert {"scikit-learn", "rjieba", "opencc"} <= set(metadata["versions"])
    assert len(metadata["files"]["model.skops"]) == 64 and len(metadata["files"]["serving.npz"]) == 64


def test_the_serving_arrays_score_like_scikit_learn(tiny_artifact, corpus_rows):
    """What the service loads (serving.npz, no scikit-learn) gives scikit-learn's probabilities."""
    from model_training.runtime import load_serving

    model, _ = load_artifact(tiny_artifact)
    serving, _ = load_serving(tiny_artifact)
    texts = [row["text"] for row in corpus_rows[3:900:11]]
    matrix = model.vectorizer.transform(texts)
    served = serving.predict_proba(texts)
    assert serving.heads == {head: [str(c) for c in clf.classes_] for head, clf in model.heads.items()}
    for head, clf in model.heads.items():
        np.testing.assert_allclose(served[head], clf.predict_proba(matrix), atol=1e-5)


def test_same_data_gives_the_same_model(tmp_path, tiny_data, tiny_artifact):
    again = tmp_path / "again"
    train(tiny_data, again, grid=TINY_GRID, folds=3, name="tiny", version="test-1")
    first, _ = load_artifact(tiny_artifact)
    second, _ = load_artifact(again)
    for head in first.heads:
        np.testing.assert_array_equal(first.heads[head].coef_, second.heads[head].coef_)


def test_cross_validation_picks_from_the_grid_and_scores_out_of_fold(tiny_data):
    data = load_dataset(tiny_data)
    analyzer, c, scores, oof = cross_validate(data, TINY_GRID, folds=3)
    assert analyzer == TINY_GRID.analyzers[0] and set(c.values()) == {4.0}
    for head in data.heads:
        assert oof[head].shape == (len(data), len(set(data.labels[head])))
        # Every row is predicted by a model that did not see it, so probabilities sum to one.
        np.testing.assert_allclose(oof[head].sum(axis=1), 1.0, rtol=1e-6)
        assert scores[head]["accuracy"] < 1.0


def test_both_scripts_get_the_same_probabilities(tiny_artifact):
    import opencc

    model, _ = load_artifact(tiny_artifact)
    converted = [opencc.OpenCC("t2s").convert(TRADITIONAL), opencc.OpenCC("s2t").convert(SIMPLIFIED)]
    original = model.predict_proba([TRADITIONAL, SIMPLIFIED])
    other = model.predict_proba(converted)
    for head in model.heads:
        np.testing.assert_allclose(original[head], other[head], atol=1e-6)


def test_fold_tfidf_equals_a_vectorizer_fitted_on_the_fold(corpus_rows):
    from model_training.model import make_vectorizer
    from model_training.text import Analyzer
    from model_training.train import count_matrix, fold_tfidf

    texts = [row["text"] for row in corpus_rows[:600]]
    analyzer = Analyzer(2, (1, 2))
    counts = count_matrix([analyzer(text) for text in texts])
    from sklearn.feature_extraction.text import CountVectorizer

    reference = CountVectorizer(analyzer=lambda features: features, lowercase=False)
    expected_counts = reference.fit_transform([analyzer(text) for text in texts])
    assert counts.shape == expected_counts.shape and (counts != expected_counts).nnz == 0
    train_idx, test_idx = np.arange(0, 600, 3), np.arange(1, 600, 3)
    x_train, x_test = fold_tfidf(counts, train_idx, test_idx)
    vectorizer = make_vectorizer(analyzer)
    expected = vectorizer.fit_transform([texts[i] for i in train_idx])
    assert x_train.shape == expected.shape
    np.testing.assert_allclose(x_train.toarray(), expected.toarray(), atol=1e-6)
    np.testing.assert_allclose(
        x_test.toarray(), vectorizer.transform([texts[i] for i in test_idx]).toarray(), atol=1e-6
    )


def test_fast_vectorize_equals_scikit_learn(tiny_artifact, corpus_rows):
    model, _ = load_artifact(tiny_artifact)
    texts = [row["text"] for row in corpus_rows[1:2000:7]] + [
        "",
        "！！",
        "𠀀𠀁 emoji 😀 and CJK extension B, F-35 3.5% iPhone",
        "中國",
        "中",
    ]
    matrix = model.vectorizer.transform(texts)
    np.testing.assert_allclose(model.vectorize(texts).toarray(), matrix.toarray(), atol=1e-6)
    together = model.predict_proba(texts)
    for head, clf in model.heads.items():
        expected = clf.predict_proba(matrix)
        np.testing.assert_allclose(model.proba(model.vectorize(texts), head), expected, atol=1e-5)
        np.testing.assert_allclose(together[head], expected, atol=1e-5)
    # A batch is the sum of its parts: n-grams never straddle two documents.
    for index in (0, 1, len(texts) - 3, len(texts) - 1):
        alone = model.predict_proba([texts[index]])
        for head in model.heads:
            np.testing.assert_allclose(alone[head][0], together[head][index], atol=1e-6)
    # The single-text path (numpy for the features, Python floats for the scores) agrees.
    linear = model.linear
    for index, text in enumerate(texts):
        columns, values = linear.index.lookup_one(text)
        np.testing.assert_array_equal(columns, matrix[index].indices[np.argsort(matrix[index].indices)])
        np.testing.assert_allclose(values, matrix[index].toarray()[0, columns], atol=1e-6)
        one = linear.predict_one(text)
        for head in model.heads:
            np.testing.assert_allclose(one[head], together[head][index], atol=1e-6)


def test_a_failed_run_leaves_the_previous_artifact_whole(tmp_path, tiny_data, monkeypatch):
    target = tmp_path / "model"
    train(tiny_data, target, grid=TINY_GRID, folds=3)
    before = (target / "metadata.json").read_bytes()

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sio, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        train(tiny_data, target, grid=TINY_GRID, folds=3)
    assert (target / "metadata.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.fixture(scope="module")
def target_artifact(tmp_path_factory):
    rows = []
    for i in range(12):
        rows.append({"target": "开放二胎", "text": f"支持开放二胎，好政策{i}", "stance": "FAVOR"})
        rows.append({"target": "开放二胎", "text": f"反对二胎，压力太大{i}", "stance": "AGAINST"})
        rows.append({"target": "iPhone SE", "text": f"iPhone SE 太贵不值得{i}", "stance": "AGAINST"})
        rows.append({"target": "iPhone SE", "text": f"iPhone SE 小巧好用{i}", "stance": "FAVOR"})
    folder = tmp_path_factory.mktemp("targets")
    path = write_jsonl(folder / "t.jsonl", rows)
    metadata = train(path, folder / "artifact", grid=TINY_GRID, folds=3)
    return folder / "artifact", metadata


def test_stance_toward_a_target_compares_both_designs(target_artifact):
    directory, metadata = target_artifact
    assert metadata["target_aware"] is True
    assert metadata["training_data"]["targets"] == {"开放二胎": 24, "iPhone SE": 24}
    assert set(metadata["target_modes_cv"]) == {"target_aware_features", "per_target_models"}
    assert metadata["target_mode"] in metadata["target_modes_cv"]
    model, _ = load_artifact(directory)
    assert model.predict([("开放二胎", "支持开放二胎"), ("iPhone SE", "iPhone SE 太贵")])["stance"] == [
        "FAVOR",
        "AGAINST",
    ]
    # A target never seen in training is answered by the target-aware fallback model.
    probs = model.predict_proba([("深圳禁摩限电", "支持")])["stance"]
    assert probs.shape == (1, 2) and abs(float(probs.sum()) - 1) < 1e-5


def test_per_target_models_round_trip(target_artifact, tmp_path):
    from model_training.model import MultiHeadModel, TargetedModel

    directory, _ = target_artifact
    model, metadata = load_artifact(directory)
    fallback = model.fallback if isinstance(model, TargetedModel) else model
    targeted = TargetedModel(fallback=fallback, per_target={"开放二胎": fallback})
    save_artifact(targeted, metadata, tmp_path / "copy")
    again, _ = load_artifact(tmp_path / "copy")
    assert isinstance(again, TargetedModel) and isinstance(again.per_target["开放二胎"], MultiHeadModel)
    docs = [("开放二胎", "支持开放二胎"), ("other", "反对")]
    np.testing.assert_allclose(again.predict_proba(docs)["stance"], targeted.predict_proba(docs)["stance"])


def test_the_service_needs_and_uses_the_target(target_artifact):
    from service import create_app

    directory, _ = target_artifact
    client = create_app({"MODEL_DIR": str(directory)}).test_client()
    response = client.post("/classify", json={"text": "支持开放二胎"})
    assert response.status_code == 422 and "target" in response.get_json()["errors"]["json"]
    body = client.post("/classify", json={"text": "支持开放二胎", "target": "开放二胎"}).get_json()
    assert body["results"][0]["predictions"]["stance"]["label"] == "FAVOR"


def test_joblib_export_is_opt_in_and_checksummed(tmp_path, tiny_data, caplog):
    metadata = train(tiny_data, tmp_path / "a", grid=TINY_GRID, folds=3, joblib_copy=True)
    assert set(metadata["files"]) == {"model.skops", "serving.npz", "model.joblib"}
    assert "only from sources you trust" in caplog.text
    load_artifact(tmp_path / "a")  # every checksum verified; the service loads serving.npz only


def test_the_default_version_names_the_model(tmp_path, tiny_data):
    """Same data and settings: the same version; other settings on the same data: another."""
    versions = []
    for name, grid in (
        ("a", TINY_GRID),
        ("b", TINY_GRID),
        ("c", Grid(analyzers=TINY_GRID.analyzers, c_values=[1.0])),
    ):
        versions.append(train(tiny_data, tmp_path / name, grid=grid, folds=3)["version"])
    assert versions[0] == versions[1]
    assert versions[0] != versions[2]
    assert re.fullmatch(r"\d{8}-[0-9a-f]{8}", versions[0])
