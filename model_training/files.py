"""Artifact files without the model: checksums, versions, metadata, atomic JSON writes.

Kept apart from ``artifact`` (which imports skops, hence all of scikit-learn) so that the
service can verify an artifact and load its serving arrays without importing either.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from model_training.text import tokenizer_info

MODEL_FILE = "model.skops"
SERVING_FILE = "serving.npz"
METADATA_FILE = "metadata.json"


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
