"""Artifact folders: written atomically, verified before they are loaded.

An artifact is a folder holding ``model.skops`` (the fitted vectoriser and heads,
persisted with skops so that loading cannot run code from the file), ``serving.npz`` (the
arrays the service classifies with, see ``runtime``) and ``metadata.json`` (provenance,
scores, library versions and the SHA-256 of every model file).
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import skops.io as sio
from skops.io.exceptions import UntrustedTypesFoundException

from model_training.files import (  # noqa: F401 (re-exported: the artifact API in one place)
    METADATA_FILE,
    MODEL_FILE,
    PINNED,
    SERVING_FILE,
    ArtifactError,
    library_versions,
    read_metadata,
    sha256_file,
    verify_artifact,
    write_json_atomic,
)
from model_training.model import MultiHeadModel, TargetedModel
from model_training.runtime import save_serving

LOG = logging.getLogger("model_training.artifact")
# The only types an artifact may contain. skops refuses to build anything else, so a
# crafted file cannot smuggle in a callable; review this list when the model changes.
TRUSTED_TYPES = [
    "model_training.text.Analyzer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "numpy.str_",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.NoneType",
    "numpy.dtype",
    "numpy.ndarray",
    "collections.OrderedDict",
]


def _compact(vectorizer):
    """The vectoriser without its vocabulary dict, and the vocabulary as a string array.

    skops writes a dict entry by entry into its JSON schema: loading 150,000 entries that
    way peaks at ~250 MB and leaves the heap fragmented (worker RSS +120 MB). A numpy
    string array is stored as one .npy block and turned back into the dict in milliseconds.
    """
    features = np.empty(len(vectorizer.vocabulary_), dtype=object)
    for feature, index in vectorizer.vocabulary_.items():
        features[index] = feature
    stripped = copy.copy(vectorizer)
    stripped.vocabulary_ = {}
    return stripped, features.astype(str)


def _expand(vectorizer, features: np.ndarray):
    vectorizer.vocabulary_ = {feature: index for index, feature in enumerate(features.tolist())}
    return vectorizer


def _part(model: MultiHeadModel) -> dict:
    vectorizer, features = _compact(model.vectorizer)
    return {"vectorizer": vectorizer, "features": features, "heads": model.heads}


def _content(model: MultiHeadModel | TargetedModel) -> dict:
    """What is persisted: plain dicts of fitted scikit-learn objects and arrays."""
    if isinstance(model, TargetedModel):
        content = _part(model.fallback)
        content["targets"] = {target: _part(sub) for target, sub in model.per_target.items()}
        return content
    return _part(model)


def _single(part: dict) -> MultiHeadModel:
    return MultiHeadModel(vectorizer=_expand(part["vectorizer"], part["features"]), heads=dict(part["heads"]))


def _model(content: dict) -> MultiHeadModel | TargetedModel:
    fallback = _single(content)
    if "targets" not in content:
        return fallback
    return TargetedModel(
        fallback=fallback, per_target={target: _single(part) for target, part in content["targets"].items()}
    )


def save_artifact(
    model: MultiHeadModel | TargetedModel, metadata: dict, directory: str | Path, *, joblib_copy: bool = False
) -> dict:
    """Write the artifact into a temporary sibling folder, then rename it into place.

    Returns the metadata as written (with the checksums of the files and the versions).
    """
    target = Path(directory).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        sio.dump(_content(model), staging / MODEL_FILE)
        save_serving(model.linear, staging / SERVING_FILE)
        files = {
            MODEL_FILE: sha256_file(staging / MODEL_FILE),
            SERVING_FILE: sha256_file(staging / SERVING_FILE),
        }
        if joblib_copy:
            import joblib

            LOG.warning(
                "also writing model.joblib: loading a joblib file can run arbitrary code, "
                "load it only from sources you trust (the service never loads it)"
            )
            joblib.dump(_content(model), staging / "model.joblib")
            files["model.joblib"] = sha256_file(staging / "model.joblib")
        metadata = {**metadata, "files": files, "versions": library_versions()}
        write_json_atomic(staging / METADATA_FILE, metadata)
        staging.chmod(0o755)
        previous = None
        if target.exists():
            previous = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(previous)
        staging.rename(target)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return metadata


def load_artifact(directory: str | Path) -> tuple[MultiHeadModel | TargetedModel, dict]:
    """Verify and load an artifact folder; nothing outside ``TRUSTED_TYPES`` is built."""
    directory = Path(directory)
    metadata = verify_artifact(directory)
    path = directory / MODEL_FILE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # skops refuses, before building anything, a file holding a type not in the list.
            content = sio.load(path, trusted=TRUSTED_TYPES)
        model = _model(content)
    except UntrustedTypesFoundException as exc:
        raise ArtifactError(f"artifact check 'trusted types' failed: {path}: {exc}") from None
    except Exception as exc:  # a damaged file can fail anywhere inside skops or numpy
        raise ArtifactError(f"artifact check 'load' failed: {path}: {exc}") from None
    return model, metadata
