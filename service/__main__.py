"""Command line: ``python -m service predict --artifact DIR --input IN.jsonl --output OUT.jsonl``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from model_training.data import DataError, read_jsonl
from model_training.files import ArtifactError

BATCH = 256


class InputError(ValueError):
    """A line of the input cannot be classified; the message names the line."""


def _batches(handle, batch: int) -> Iterator[list[tuple[int, dict]]]:
    chunk = []
    for number, record in read_jsonl(handle, "line"):
        if not isinstance(record.get("text"), str):
            raise InputError(f"line:{number}: expected an object with a string 'text'")
        chunk.append((number, record))
        if len(chunk) == batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def predict_file(
    artifact: str, source: str, destination: str, *, batch: int = BATCH, progress: bool = False
) -> int:
    """Stream ``source`` through the model into ``destination``; return the row count."""
    from service.classifier import Classifier

    classifier = Classifier.load(artifact)
    out_path = Path(destination)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    count, started = 0, time.monotonic()
    try:
        with open(source, encoding="utf-8") as reader, os.fdopen(fd, "w", encoding="utf-8") as writer:
            for chunk in _batches(reader, batch):
                records = [record for _, record in chunk]
                targets = None
                if classifier.target_aware:
                    missing = [n for n, r in chunk if not isinstance(r.get("target"), str) or not r["target"]]
                    if missing:
                        raise InputError(f"line:{missing[0]}: this model needs a string 'target'")
                    targets = [r["target"] for r in records]
                results, _ = classifier.classify([r["text"] for r in records], targets=targets)
                for record, result in zip(records, results, strict=True):
                    for head, value in result["predictions"].items():
                        record[head] = value["label"]
                        record[f"{head}_scores"] = value["scores"]
                writer.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
                count += len(records)
                if progress:
                    rate = count / max(time.monotonic() - started, 1e-9)
                    print(f"\r{count:,} rows, {rate:,.0f}/s", end="", file=sys.stderr, flush=True)
        os.replace(temporary, out_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if progress:
        print(file=sys.stderr)
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description="Batch prediction.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify a JSONL file of objects with a 'text' field")
    predict.add_argument("--artifact", default=os.environ.get("MODEL_DIR", "artifacts/default"))
    predict.add_argument("--input", required=True, help="JSONL input (other fields are kept)")
    predict.add_argument("--output", required=True, help="JSONL output, written atomically")
    predict.add_argument("--batch", type=int, default=BATCH)
    args = parser.parse_args(argv)
    try:
        count = predict_file(
            args.artifact, args.input, args.output, batch=args.batch, progress=sys.stderr.isatty()
        )
    except (ArtifactError, DataError, InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{count} rows written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
