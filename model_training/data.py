"""Labelled data sets: the loaders of every supported input format.

Every loader returns a ``Dataset``; a malformed row raises ``DataError`` naming the file
and line.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

LABEL_COLUMNS = ("stance", "topic", "sentiment")
FORMATS = ("jsonl", "csv", "tsv", "nlpcc2016", "chnsenticorp", "tnews")
# The public formats: their columns, whether they have a header, and the label column.
PUBLIC_FORMATS = {
    "nlpcc2016": (("id", "target", "text", "stance"), True, "stance"),
    "chnsenticorp": (("text", "label"), False, "label"),
    "tnews": (("text", "label"), False, "label"),
}


class DataError(ValueError):
    """A training file cannot be read; the message names the file and line."""


@dataclass
class Dataset:
    texts: list[str] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)
    ids: list[str | None] = field(default_factory=list)
    targets: list[str | None] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    sha256: str = ""
    format: str = ""

    @property
    def heads(self) -> list[str]:
        return list(self.labels)

    @property
    def has_targets(self) -> bool:
        return any(self.targets)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int], *, targets: bool = True) -> Dataset:
        """The rows at ``indices`` (with or without their targets)."""
        return Dataset(
            texts=[self.texts[i] for i in indices],
            labels={head: [values[i] for i in indices] for head, values in self.labels.items()},
            ids=[self.ids[i] for i in indices],
            targets=[self.targets[i] if targets else None for i in indices],
            sources=[self.sources[i] for i in indices],
            sha256=self.sha256,
            format=self.format,
        )


def data_files(path: Path) -> list[Path]:
    """A file is itself; a folder stands for the JSONL files below it, in sorted order."""
    if path.is_dir():
        files = sorted(path.rglob("*.jsonl"))
        if not files:
            raise DataError(f"{path}: folder holds no .jsonl file")
        return files
    if not path.exists():
        raise DataError(f"{path}: no such file")
    return [path]


def guess_format(path: Path) -> str:
    """Infer the format from the file name: .jsonl/.json, .csv, .tsv, or a folder of JSONL."""
    if path.is_dir():
        return "jsonl"
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "json", "ndjson"):
        return "jsonl"
    if suffix in ("csv", "tsv"):
        return suffix
    raise DataError(f"{path}: cannot tell the format from the name; pass FORMAT=")


def read_jsonl(lines: Iterable[str], name: str) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; ``DataError`` names ``name:line``."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{name}:{number}: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{name}:{number}: expected a JSON object")
        yield number, record


def _records_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8") as handle:
        yield from read_jsonl(handle, str(path))


def _records_delimited(path: Path, delimiter: str, columns: tuple[str, ...] | None, quoting: int):
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        header = columns
        if header is None:
            try:
                header = tuple(name.strip() for name in next(reader))
            except StopIteration:
                return
            start = 2
        else:
            start = 1
        for number, cells in enumerate(reader, start):
            if not cells or not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise DataError(
                    f"{path}:{number}: expected {len(header)} fields ({', '.join(header)}), "
                    f"found {len(cells)}"
                )
            yield number, dict(zip(header, cells, strict=True))


def _records(path: Path, fmt: str) -> Iterator[tuple[int, dict]]:
    if fmt == "jsonl":
        yield from _records_jsonl(path)
    elif fmt in ("csv", "tsv"):
        yield from _records_delimited(path, "," if fmt == "csv" else "\t", None, csv.QUOTE_MINIMAL)
    else:
        columns, has_header, _ = PUBLIC_FORMATS[fmt]
        rows = _records_delimited(path, "\t", None if has_header else columns, csv.QUOTE_NONE)
        yield from rows


def load_dataset(path: str | Path, fmt: str | None = None) -> Dataset:
    """Read a labelled file (or a folder of JSONL shards) into a ``Dataset``."""
    path = Path(path)
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    label_columns = (PUBLIC_FORMATS[fmt][2],) if fmt in PUBLIC_FORMATS else LABEL_COLUMNS
    digest = hashlib.sha256()
    data = Dataset(format=fmt)
    heads: list[str] | None = None
    for file in data_files(path):
        digest.update(file.read_bytes())
        for number, record in _records(file, fmt):
            where = f"{file}:{number}"
            text = record.get("text")
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{where}: missing or empty 'text'")
            present = [c for c in label_columns if record.get(c) not in (None, "")]
            if heads is None:
                heads = present
                if not heads:
                    raise DataError(f"{where}: no label column ({', '.join(label_columns)})")
                data.labels = {head: [] for head in heads}
            missing = [head for head in heads if record.get(head) in (None, "")]
            if missing:
                raise DataError(f"{where}: missing label {', '.join(missing)}")
            for head in heads:
                value = record[head]
                if not isinstance(value, str):
                    raise DataError(f"{where}: label {head} must be a string, got {value!r}")
                data.labels[head].append(value.strip())
            target = record.get("target")
            if target is not None and not isinstance(target, str):
                raise DataError(f"{where}: 'target' must be a string")
            data.texts.append(text)
            data.ids.append(None if record.get("id") is None else str(record["id"]))
            data.targets.append(target.strip() if target else None)
            data.sources.append(where)
    if not data.texts:
        raise DataError(f"{path}: no rows")
    data.sha256 = digest.hexdigest()
    return data
