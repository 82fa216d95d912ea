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


@pytest.mark.parametrize(
    ("damage", "check"),
    [
        (lambda d: (d / "serving.npz").unlink(), "'present'"),
        (lambda d: (d / "serving.npz").write_bytes((d / "serving.npz").read_bytes()[:1000]), "'checksum'"),
        (lambda d: edit_metadata(d, lambda m: m["files"].pop("serving.npz")), "'metadata'"),
    ],
    ids=["missing", "truncated", "not-recorded"],
)
def test_the_service_refuses_damaged_serving_arrays(copy, damage, check):
    from model_training.runtime import load_serving

    damage(copy)
    with pytest.raises(ArtifactError, match=check):
        load_serving(copy)


def test_serving_arrays_holding_objects_are_refused_even_with_a_matching_checksum(copy):
    # An object array is how a pickle, hence code, would ride in an .npz: never loaded.
    import numpy as np

    from model_training.artifact import sha256_file
    from model_training.runtime import load_serving

    with np.load(copy / "serving.npz") as arrays:
        content = dict(arrays)
    content["0.idf"] = np.asarray([shutil.rmtree], dtype=object)
    with open(copy / "serving.npz", "wb") as handle:
        np.savez(handle, **content)
    digest = sha256_file(copy / "serving.npz")
    edit_metadata(copy, lambda m: m["files"].update({"serving.npz": digest}))
    with pytest.raises(ArtifactError, match=r"'load'.*(pickle|object)"):
        load_serving(copy)


def test_a_file_with_untrusted_types_is_refused_even_with_a_matching_checksum(copy, tmp_path):
    import skops.io as sio

    from model_training.artifact import sha256_file

    sio.dump({"vectorizer": shutil.rmtree, "heads": {}}, copy / "model.skops")
    digest = sha256_file(copy / "model.skops")
    edit_metadata(copy, lambda m: m["files"].update({"model.skops": digest}))
    with pytest.raises(ArtifactError, match=r"'trusted types'.*shutil\.rmtree"):
        load_artifact(copy)
