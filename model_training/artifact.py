"""Artifact folders: written atomically, verified before they are loaded.

An artifact is a folder holding ``model.skops`` (the vectoriser and the heads, persisted
with skops so that loading cannot run code from the file) and ``metadata.json``
(provenance, scores, library versions and the SHA-256 of every model file).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from skops.io.exceptions import UntrustedTypesFoundException

from model_training.model import MultiHeadModel, TargetedModel
from model_training.text import tokenizer_info

LOG = logging.getLogger("model_training.artifact")
MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
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


class ArtifactError(RuntimeError):
    """An artifact is missing, damaged, foreign or untrusted; the message says which check failed."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions that must match between the training and the serving environment."""
    from importlib.metadata import version

    info = tokenizer_info()
    return {
        "scikit-learn": version("scikit-learn"),
        "numpy": version("numpy"),
        "scipy": version("scipy"),
        "skops": version("skops"),
        info["tokenizer"]: info["tokenizer_version"],
        "opencc": info["opencc_version"],
    }


# Versions whose difference makes an artifact foreign: they change features or weights.
PINNED = ("scikit-learn", "rjieba", "opencc")


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON next to ``path`` and rename it over, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
        files = {MODEL_FILE: sha256_file(staging / MODEL_FILE)}
        if joblib_copy:
            import joblib

            LOG.warning(
                "also writing model.joblib: loading a joblib file can run arbitrary code, "
                "load it only from sources you trust (the service always loads model.skops)"
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


def read_metadata(directory: str | Path) -> dict:
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise ArtifactError(f"artifact check 'present' failed: {path} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"artifact check 'metadata' failed: {path} is unreadable ({exc})") from None


def verify_artifact(directory: str | Path) -> dict:
    """Check presence, checksums and versions; return the metadata or raise ``ArtifactError``."""
    directory = Path(directory)
    metadata = read_metadata(directory)
    files = metadata.get("files") or {}
    if MODEL_FILE not in files:
        raise ArtifactError(f"artifact check 'metadata' failed: {MODEL_FILE} has no recorded checksum")
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise ArtifactError(f"artifact check 'present' failed: {path} does not exist")
        actual = sha256_file(path)
        if actual != expected:
            raise ArtifactError(
                f"artifact check 'checksum' failed: {path} has SHA-256 {actual[:12]}…, "
                f"metadata records {expected[:12]}…"
            )
    recorded = metadata.get("versions") or {}
    current = library_versions()
    for name in PINNED:
        if recorded.get(name) != current.get(name):
            raise ArtifactError(
                f"artifact check 'version' failed: trained with {name} {recorded.get(name)}, "
                f"this environment has {current.get(name)}"
            )
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
