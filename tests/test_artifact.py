import json
import shutil

import pytest

from model_training.artifact import ArtifactError, load_artifact, write_json_atomic


@pytest.fixture()
def copy(tmp_path, tiny_artifact):
    target = tmp_path / "copy"
    shutil.copytree(tiny_artifact, target)
    return target


def edit_metadata(directory, change):
    path = directory / "metadata.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    change(metadata)
    write_json_atomic(path, metadata)


def test_a_good_artifact_loads(copy):
    model, metadata = load_artifact(copy)
    assert set(model.heads) == set(metadata["heads"])


@pytest.mark.parametrize(
    ("damage", "check"),
    [
        (lambda d: (d / "model.skops").unlink(), "'present'"),
        (lambda d: (d / "metadata.json").unlink(), "'present'"),
        (lambda d: (d / "metadata.json").write_text("{not json", encoding="utf-8"), "'metadata'"),
        (lambda d: (d / "model.skops").write_bytes((d / "model.skops").read_bytes()[:1000]), "'checksum'"),
        (
            lambda d: (d / "model.skops").write_bytes(b"x" + (d / "model.skops").read_bytes()[1:]),
            "'checksum'",
        ),
        (lambda d: edit_metadata(d, lambda m: m["versions"].update({"scikit-learn": "0.1"})), "'version'"),
        (lambda d: edit_metadata(d, lambda m: m["versions"].update({"rjieba": "9.9"})), "'version'"),
    ],
    ids=[
        "model-missing",
        "metadata-missing",
        "metadata-garbled",
        "truncated",
        "tampered",
        "foreign-sklearn",
        "foreign-tokenizer",
    ],
)
def test_a_damaged_artifact_is_refused_naming_the_check(copy, damage, check):
    damage(copy)
    with pytest.raises(ArtifactError, match=check):
        load_artifact(copy)


def test_a_file_with_untrusted_types_is_refused_even_with_a_matching_checksum(copy, tmp_path):
    import skops.io as sio

    from model_training.artifact import sha256_file

    sio.dump({"vectorizer": shutil.rmtree, "heads": {}}, copy / "model.skops")
    digest = sha256_file(copy / "model.skops")
    edit_metadata(copy, lambda m: m["files"].update({"model.skops": digest}))
    with pytest.raises(ArtifactError, match=r"'trusted types'.*shutil\.rmtree"):
        load_artifact(copy)
