"""Speed benchmarks of the classifier (issue 5), printed as Markdown tables.

``make benchmark`` runs ``.venv/bin/python bench/speed.py``; run it from the project root.
Sections, each printed as soon as it is measured:

1. In-process: ``Classifier.classify`` on real corpus paragraphs, one at a time and in
   batches of 64, with the time spent in each stage (normalise, tokenise, n-grams, ...).
2. Tokeniser: ``jieba.lcut`` against ``rjieba.cut`` on normalised corpus text, and the
   share of paragraphs whose tokens are identical.
3. HTTP: ``wrk`` against the production gunicorn command
   (``gunicorn -c service/gunicorn.conf.py`` on a free 127.0.0.1 port), single paragraphs
   at 1, 8 and 64 connections and 64-paragraph batches, next to the same load on the
   service with its model replaced by a constant answer (``bench/framework_app.py``) and
   on a constant-answer Flask app (``bench/ceiling_app.py``), all under the same settings,
   in alternating rounds (median shown).
4. Peer: MLServer 1.7.1 + mlserver-sklearn serving a scikit-learn Pipeline (same
   analyzer, stance head) through its V2 REST endpoint, installed into its own venv.
5. Memory and start-up: RSS (and PSS) of the gunicorn master and workers, and the time
   from process start to ``/readyz`` = 200.
6. Training time of the default corpus and of TNEWS (``../shared/data``, when present).

Then the targets of issue 5 with a pass/miss column, and every command line used.
The figures are wall-clock on a shared 2-core machine: the load generator runs on the
same cores as the servers, and other work may be running, so treat them as noisy.
Needs Debian's ``wrk`` (``apt-get install -y wrk``) for sections 3-5.

Options: ``--duration S`` (each wrk run, default 10), ``--warmup S`` (2), ``--rounds N`` (3), ``--budget S``
(each in-process loop, 8), ``--artifact DIR``, ``--peer-venv DIR``, and ``--skip-inprocess``,
``--skip-http``, ``--skip-peer``, ``--skip-training`` to run parts alone. WEB_CONCURRENCY and
THREADS pass through to gunicorn, so other worker settings can be compared with the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.prefix) / "bin"
HAN = re.compile(r"[\u4e00-\u9fff]")
BATCH = 64
CONNECTIONS = (1, 8, 64)
WRK_THREADS = 2  # one per core; wrk shares the machine with the servers
WRK_TIMEOUT = "10s"
READY_POLL = 0.02
READY_LIMIT = 60.0
SEED = 5
STAGE_ROUNDS = 3
HTTP_SINGLE_BODIES = 512
HTTP_BATCH_BODIES = 16
PEER_REQUIREMENTS = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22")
PEER_MODEL = "zh-news-stance"
DEFAULT_PEER_VENV = Path(tempfile.gettempdir()) / "zh-news-bench" / "mlserver-venv"
TNEWS = ROOT.parent / "shared" / "data" / "tnews" / "train.tsv"

# Targets of issue 5.
TARGET_VS_PEER = 2.0
TARGET_VS_CEILING = 0.6
TARGET_P99_MS = 50.0
TARGET_BATCH_PER_S = 5000.0
TARGET_WORKER_MB = 200.0
TARGET_READY_S = 3.0
TARGET_TRAIN_S = 60.0
TARGET_TNEWS_S = 180.0
TRAIN_LIMIT_FACTOR = 5  # a training run is stopped at 5 × its target: a miss either way


# --------------------------------------------------------------------------- reporting


@dataclass
class Report:
    """Collects the command lines and the target checks; prints sections as they come."""

    commands: list[str] = field(default_factory=list)
    targets: list[tuple[str, str, str]] = field(default_factory=list)

    def command(self, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        line = f"(cd {shlex.quote(str(cwd))} && {prefix + ' ' if prefix else ''}{shlex.join(argv)})"
        if line not in self.commands:
            self.commands.append(line)

    def target(self, name: str, measured: str, ok: bool | None) -> None:
        verdict = "n/a" if ok is None else ("pass" if ok else "**miss**")
        self.targets.append((name, measured, verdict))

    @staticmethod
    def section(title: str, *parts: str) -> None:
        print(f"\n## {title}\n")
        print("\n\n".join(part for part in parts if part))
        sys.stdout.flush()


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; cells are printed with ``str``."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if not numerator or not denominator else numerator / denominator


# --------------------------------------------------------------------------- in-process


def timed(items: Sequence, work: Callable[[object], object], budget: float) -> tuple[int, float]:
    """Apply ``work`` to the items in order until done or ``budget`` seconds; (count, seconds)."""
    started = time.perf_counter()
    count = 0
    for item in items:
        work(item)
        count += 1
        if time.perf_counter() - started > budget:
            break
    return count, time.perf_counter() - started


def chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def utf8_bytes(texts: Iterable[str]) -> int:
    return sum(len(text.encode("utf-8")) for text in texts)


def bench_inprocess(artifact: Path, texts: list[str], budget: float, report: Report) -> None:
    from model_training.text import normalize, tokenize
    from service.classifier import Classifier

    classifier = Classifier.load(artifact)
    model = classifier.model
    index = model.index  # FeatureIndex: the integer n-gram look-up of the serving model
    classifier.classify(texts[:BATCH])  # warm-up: converters, dictionary, numpy paths

    progress("in-process: single paragraphs")
    n_single, t_single = timed(texts, lambda text: classifier.classify([text]), budget)
    single_bytes = utf8_bytes(texts[:n_single])

    progress("in-process: batches of 64")
    batches = chunks(texts, BATCH)
    n_batches, t_batch = timed(batches, classifier.classify, budget)
    batch_texts = [text for batch in batches[:n_batches] for text in batch]
    batch_bytes = utf8_bytes(batch_texts)
    n_batch = len(batch_texts)

    progress("in-process: stages")
    # Each stage over the same paragraphs, in batches of 64 where the model works in batches;
    # the best of STAGE_ROUNDS rounds per stage, so that other work on the machine weighs less.
    normals = [normalize(text) for text in batch_texts]
    words = [tokenize(normal) for normal in normals]
    batch_chunks = chunks(batch_texts, BATCH)
    stage_work: dict[str, Callable[[], object]] = {
        "normalize": lambda: [normalize(text) for text in batch_texts],
        "tokenize": lambda: [tokenize(normal) for normal in normals],
        "codes": lambda: [
            index._codes(words[i : i + BATCH], normals[i : i + BATCH]) for i in range(0, len(normals), BATCH)
        ],
        "lookup": lambda: [index.lookup(batch) for batch in batch_chunks],
        "proba": lambda: [model.predict_proba(batch) for batch in batch_chunks],
        "classify": lambda: [classifier.classify(batch) for batch in batch_chunks],
    }
    best = dict.fromkeys(stage_work, float("inf"))
    for _ in range(STAGE_ROUNDS):
        for name, work in stage_work.items():
            started = time.perf_counter()
            work()
            best[name] = min(best[name], time.perf_counter() - started)
    t_normalize, t_tokenize, t_codes = best["normalize"], best["tokenize"], best["codes"]
    t_lookup, t_proba, t_classify = best["lookup"], best["proba"], best["classify"]

    def per(seconds: float) -> float:
        return seconds / n_batch * 1e6

    stages = [
        ("normalize (NFKC, OpenCC, spaces)", t_normalize),
        ("tokenize (rjieba.cut + filter)", t_tokenize),
        ("n-gram integer codes (FeatureIndex._codes)", t_codes),
        ("vocabulary search + counts + tf-idf + l2", t_lookup - t_normalize - t_tokenize - t_codes),
        ("heads (one weight gather, softmax)", t_proba - t_lookup),
        ("result dicts (labels, rounded scores)", t_classify - t_proba),
    ]
    stage_rows = [(name, fmt(per(seconds), 1), f"{seconds / t_classify:.1%}") for name, seconds in stages]
    stage_rows.append(("**total classify, batches of 64**", fmt(per(t_classify), 1), "100%"))
    tokenising = t_normalize + t_tokenize
    single_us = t_single / n_single * 1e6
    batch_rate = n_batch / t_batch
    mean_chars = statistics.fmean(len(text) for text in texts)
    rows = [
        (
            "single: `classify([text])`",
            f"{n_single:,}",
            f"{t_single:.2f}",
            fmt(n_single / t_single),
            fmt(single_bytes / t_single / 1000),
            f"{single_us / 1000:.3f}",
            f"{per(tokenising) / single_us:.1%}",
        ),
        (
            "batch of 64: `classify(batch)`",
            f"{n_batch:,}",
            f"{t_batch:.2f}",
            fmt(batch_rate),
            fmt(batch_bytes / t_batch / 1000),
            f"{1000 / batch_rate:.3f}",
            f"{per(tokenising) / (1e6 / batch_rate):.1%}",
        ),
    ]
    report.section(
        "1. In-process classification",
        f"Artifact `{artifact}`; {len(texts):,} corpus paragraphs, mean {mean_chars:.0f} characters "
        f"({utf8_bytes(texts) / len(texts):.0f} UTF-8 bytes); one thread; KB = 1,000 bytes of UTF-8 "
        f"paragraph text; loops bounded to {budget:g} s each.",
        table(
            [
                "mode",
                "paragraphs",
                "seconds",
                "paragraphs/s",
                "KB/s",
                "ms/paragraph",
                "share normalize+tokenize",
            ],
            rows,
        ),
        f"Where the time of a batched paragraph goes (each stage timed alone over the same "
        f"paragraphs, best of {STAGE_ROUNDS} rounds; a row is the difference between two "
        f"nested stages, so the rows add up to the total, and noise can make a small row wrong):",
        table(["stage", "µs/paragraph", "share"], stage_rows),
    )
    report.target(
        f"in-process batch ≥ {TARGET_BATCH_PER_S:,.0f} paragraphs/s",
        f"{batch_rate:,.0f}/s",
        batch_rate >= TARGET_BATCH_PER_S,
    )


# --------------------------------------------------------------------------- tokenisers


def bench_tokenisers(texts: list[str], budget: float, report: Report) -> None:
    import logging

    import jieba
    import rjieba

    from model_training.text import normalize

    jieba.setLogLevel(logging.WARNING)
    normals = [normalize(text) for text in texts]
    jieba.initialize()  # loads the dictionary: a one-time cost, not timed
    rjieba.cut(normals[0])
    jieba.lcut(normals[0])

    progress("tokenisers: jieba.lcut vs rjieba.cut")
    rows = []
    rates = {}
    for name, cut in (("jieba.lcut", jieba.lcut), ("rjieba.cut", rjieba.cut)):
        count, seconds = timed(normals, cut, budget)
        chars = sum(len(text) for text in normals[:count])
        rates[name] = count / seconds
        rows.append((f"`{name}`", f"{count:,}", f"{seconds:.2f}", fmt(count / seconds), fmt(chars / seconds)))
    rows.append(("rjieba ÷ jieba", "", "", f"{rates['rjieba.cut'] / rates['jieba.lcut']:.2f}×", ""))

    same_full = same_chinese = 0
    example = None
    for text in normals:
        ours, theirs = rjieba.cut(text), jieba.lcut(text)
        if ours == theirs:
            same_full += 1
        elif example is None:
            example = next(
                (f"`{a}` vs `{b}`" for a, b in zip(ours, theirs, strict=False) if a != b), "lengths differ"
            )
        if [t for t in ours if HAN.search(t)] == [t for t in theirs if HAN.search(t)]:
            same_chinese += 1
    total = len(normals)
    report.section(
        "2. Tokeniser: jieba vs rjieba",
        f"Normalised corpus paragraphs (`model_training.text.normalize`), accurate mode, HMM on, "
        f"dictionaries loaded before timing; one thread; loops bounded to {budget:g} s each.",
        table(["tokeniser", "paragraphs", "seconds", "paragraphs/s", "chars/s"], rows),
        table(
            ["identical tokens (all corpus paragraphs)", "paragraphs", "share"],
            [
                ("full token list", f"{same_full:,} / {total:,}", f"{same_full / total:.2%}"),
                (
                    "Chinese tokens only (tokens with a Han character)",
                    f"{same_chinese:,} / {total:,}",
                    f"{same_chinese / total:.2%}",
                ),
            ],
        ),
        f"First difference seen (rjieba vs jieba): {example}." if example else "",
    )


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(url: str, body: dict | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    """One request to a local server; the status and the body (also of an error answer)."""
    assert url.startswith("http://127.0.0.1:"), url  # loopback only
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Server:
    """A server process started by the benchmark, its output in files (a full pipe blocks it)."""

    name: str
    process: subprocess.Popen
    port: int
    folder: Path
    started: float
    ready_seconds: float | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_tail(self, lines: int = 15) -> str:
        text = (self.folder / f"{self.name}.stderr").read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, path: str, limit: float = READY_LIMIT) -> float:
        """Poll ``path`` every 20 ms until it answers 200; seconds since the process started."""
        deadline = self.started + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _ = http(self.url(path), timeout=1.0)
                if status == 200:
                    self.ready_seconds = time.monotonic() - self.started
                    return self.ready_seconds
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(READY_POLL)
        raise RuntimeError(f"{self.name} not ready after {limit:g} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM and a graceful wait, then whatever is left of its process group."""
        end_group(self.process, grace=30)


def end_group(process: subprocess.Popen, grace: float = 10) -> None:
    """Stop a process started with ``start_new_session=True`` and every member of its group.

    SIGTERM to the process, up to ``grace`` seconds to exit, then SIGKILL to the group whose
    id is its pid (orphans such as joblib workers stay in that group).
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextmanager
def serving(
    name: str,
    argv: list[str],
    env: dict[str, str],
    folder: Path,
    report: Report,
    port: int,
    cwd: Path = ROOT,
) -> Iterator[Server]:
    """Start ``argv`` (listening on ``port``) with ``env`` added to the environment; stop it after."""
    report.command(argv, env, cwd)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.stdout", "w") as out, open(folder / f"{name}.stderr", "w") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            argv, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=err, start_new_session=True
        )
    server = Server(name, process, port, folder, started)
    try:
        yield server
    finally:
        server.stop()


def children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc/<pid>/stat."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree = children_map()
    found, todo = [], list(tree.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(tree.get(child, []))
    return sorted(found)


def memory_kb(pid: int) -> tuple[int, int | None]:
    """VmRSS and (if readable) PSS of a process, in kB."""
    rss = pss = None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss or 0, pss


# --------------------------------------------------------------------------- wrk


def lua_string(text: str) -> str:
    """A Lua double-quoted string literal holding ``text`` as UTF-8."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


LUA_TEMPLATE = """-- Generated by bench/speed.py: POST the bodies in turn; report as JSON in done().
local bodies = {
%(bodies)s
}
local threads = {}
local prepared = {}
local counter = 0
non2xx = 0

function setup(thread)
  thread:set("offset", #threads * 7)
  table.insert(threads, thread)
end

function init(args)
  for i, body in ipairs(bodies) do
    prepared[i] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
  end
  counter = offset or 0
end

function request()
  counter = counter + 1
  return prepared[(counter %% #prepared) + 1]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "non2xx": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d, ' ..
    '"p50": %%d, "p95": %%d, "p99": %%d, "max": %%d, "mean": %%f}\\n',
    summary.requests, summary.duration, summary.bytes, bad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def write_lua(path: Path, bodies: Sequence[dict]) -> Path:
    literals = ",\n".join("  " + lua_string(json.dumps(body, ensure_ascii=False)) for body in bodies)
    path.write_text(LUA_TEMPLATE % {"bodies": literals}, encoding="utf-8")
    return path


@dataclass
class Load:
    """One wrk result."""

    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50: float
    p95: float
    p99: float
    paragraphs_per_request: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def paragraphs_per_s(self) -> float:
        return self.rps * self.paragraphs_per_request

    @property
    def failed(self) -> int:
        return self.non2xx + self.socket_errors

    def cells(self) -> list[str]:
        return [
            f"{self.requests:,}",
            fmt(self.rps),
            fmt(self.paragraphs_per_s),
            f"{self.p50:.1f}",
            f"{self.p95:.1f}",
            f"{self.p99:.1f}",
            str(self.non2xx),
            str(self.socket_errors),
        ]


LOAD_HEADERS = ["requests", "req/s", "paragraphs/s", "p50 ms", "p95 ms", "p99 ms", "non-2xx", "socket errors"]


def run_wrk(
    url: str, lua: Path, connections: int, seconds: float, warmup: float, per_request: int, report: Report
) -> Load:
    """A warm-up run (discarded), then the measured run; both bounded by ``-d``."""
    threads = min(WRK_THREADS, connections)

    def argv(duration: float) -> list[str]:
        return [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{duration:g}s",
            "--timeout",
            WRK_TIMEOUT,
            "--latency",
            "-s",
            str(lua),
            url,
        ]

    if warmup > 0:
        subprocess.run(argv(warmup), capture_output=True, text=True, timeout=warmup + 60, check=False)
    command = argv(seconds)
    report.command(command)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Load(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        p50=data["p50"] / 1000,
        p95=data["p95"] / 1000,
        p99=data["p99"] / 1000,
        paragraphs_per_request=per_request,
    )


# --------------------------------------------------------------------------- HTTP


@dataclass
class HttpSetup:
    folder: Path
    artifact: Path
    single_lua: Path
    batch_lua: Path
    duration: float
    warmup: float
    workers: int
    threads: int
    rounds: int = 3


def gunicorn_env(setup: HttpSetup, port: int, metrics: Path) -> dict[str, str]:
    """The service's environment; the metrics folder must exist before the app is preloaded."""
    metrics.mkdir(parents=True, exist_ok=True)
    return {"MODEL_DIR": str(setup.artifact), "PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(metrics)}


def gunicorn_argv(app: str | None = None) -> list[str]:
    return [str(BIN / "gunicorn"), "-c", "service/gunicorn.conf.py", *([app] if app else [])]


def load_matrix(server: Server, setup: HttpSetup, report: Report, batches: bool = True) -> dict:
    """Single paragraphs at every concurrency, then 64-paragraph batches at 1 and 8."""
    results = {}
    url = server.url("/classify")
    for connections in CONNECTIONS:
        progress(f"{server.name}: single paragraph, {connections} connections")
        results[("single", connections)] = run_wrk(
            url, setup.single_lua, connections, setup.duration, setup.warmup, 1, report
        )
    for connections in (1, 8) if batches else ():
        progress(f"{server.name}: batch of {BATCH}, {connections} connections")
        results[("batch", connections)] = run_wrk(
            url, setup.batch_lua, connections, setup.duration, setup.warmup, BATCH, report
        )
    return results


def median_loads(rounds: list[dict]) -> dict:
    """Per load, the round with the median throughput (its latencies come with it)."""
    return {
        key: sorted((r[key] for r in rounds), key=lambda load: load.rps)[len(rounds) // 2]
        for key in rounds[0]
    }


def spread(rounds: list[dict], key) -> str:
    values = [r[key].rps for r in rounds]
    return f"{fmt(min(values))}–{fmt(max(values))}" if len(values) > 1 else fmt(values[0])


def gunicorn_memory(server: Server, workers: int) -> list[tuple[str, int, int | None]]:
    """RSS and PSS of the master and its workers (waits up to 10 s for every worker to fork)."""
    deadline = time.monotonic() + 10
    while len(descendants(server.process.pid)) < workers and time.monotonic() < deadline:
        time.sleep(READY_POLL)
    rows = [("master", *memory_kb(server.process.pid))]
    rows.extend((f"worker {pid}", *memory_kb(pid)) for pid in descendants(server.process.pid))
    return rows


# The servers of section 3: the production service, the same service with its model replaced
# by a constant answer (bench/framework_app.py), and a minimal Flask app (bench/ceiling_app.py).
HTTP_SERVERS = (
    ("classify", None),
    ("framework", "bench.framework_app:create_app()"),
    ("ceiling", "bench.ceiling_app:create_app()"),
)


def bench_http(setup: HttpSetup, sample: str, report: Report) -> tuple[dict, dict, dict]:
    """The three servers under the same loads, in alternating rounds; memory and ready times
    of classify.

    The machine is shared and its speed drifts by tens of percent within minutes: each server
    is started afresh in every round, rounds alternate the servers, and every table shows the
    round with the median throughput per load, next to the range over all rounds.
    """
    ports = {name: free_port() for name, _ in HTTP_SERVERS}
    runs: dict[str, list[dict]] = {name: [] for name, _ in HTTP_SERVERS}
    ready, memory_ready, memory_loaded = [], [], []
    for round_ in range(setup.rounds):
        for name, app in HTTP_SERVERS:
            env = gunicorn_env(setup, ports[name], setup.folder / f"metrics-{name}")
            with serving(name, gunicorn_argv(app), env, setup.folder, report, ports[name]) as server:
                seconds = server.wait_ready("/readyz")
                if name != "classify":
                    runs[name].append(load_matrix(server, setup, report, batches=name == "ceiling"))
                    continue
                ready.append(seconds)
                if round_ == 0:
                    memory_ready = gunicorn_memory(server, setup.workers)
                    status, body = http(server.url("/classify"), {"text": sample})
                    answer = json.loads(body)
                    if status != 200 or not answer.get("results"):
                        raise RuntimeError(f"classify answered {status}: {body[:300]!r}")
                    labels = {h: p["label"] for h, p in answer["results"][0]["predictions"].items()}
                    progress(f"classify answers {labels}")
                runs[name].append(load_matrix(server, setup, report))
                if round_ == 0:
                    memory_loaded = gunicorn_memory(server, setup.workers)
    # Cold starts for the ready time: one per round above, at least three in all.
    for attempt in range(max(0, 3 - len(ready))):
        port = free_port()
        env = gunicorn_env(setup, port, setup.folder / f"metrics-ready-{attempt}")
        with serving(f"ready-{attempt}", gunicorn_argv(), env, setup.folder, report, port) as server:
            ready.append(server.wait_ready("/readyz"))

    medians = {name: median_loads(rounds) for name, rounds in runs.items()}
    classify, framework, ceiling = medians["classify"], medians["framework"], medians["ceiling"]
    rows = []
    for key in classify:
        kind, connections = key
        label = "single paragraph" if kind == "single" else f"batch of {BATCH}"
        for name in ("classify", "framework", "ceiling"):
            if key in medians[name]:
                rows.append((name, label, connections, spread(runs[name], key), *medians[name][key].cells()))
    ratio_rows = []
    for key, load in classify.items():
        kind, connections = key
        ratio_rows.append(
            (
                "single paragraph" if kind == "single" else f"batch of {BATCH}",
                connections,
                fmt(load.rps),
                fmt(framework[key].rps) if key in framework else "",
                fmt(ceiling[key].rps),
                f"{ratio(load.rps, ceiling[key].rps):.2f}",
                f"{ratio(framework[key].rps, ceiling[key].rps):.2f}" if key in framework else "",
            )
        )
    report.section(
        "3. HTTP: gunicorn service vs the service without its model vs a constant-answer app",
        f"`wrk` ({WRK_THREADS} threads or fewer, {setup.duration:g} s after a {setup.warmup:g} s warm-up, "
        f"`--timeout {WRK_TIMEOUT}`) on 127.0.0.1, POST `/classify` with "
        f"{HTTP_SINGLE_BODIES} single-paragraph bodies or {HTTP_BATCH_BODIES} 64-paragraph bodies in turn. "
        f"gunicorn `-c service/gunicorn.conf.py`: {setup.workers} gthread workers × {setup.threads} "
        f"threads, preloaded. `framework` is the real service whose classifier returns one "
        f"precomputed answer (`bench/framework_app.py`): validation, flask-smorest, request ids, "
        f"JSON log and metrics, no model. `ceiling` is `bench/ceiling_app.py`, a bare Flask view "
        f"with a constant answer. Same settings for all three; wrk runs on the same 2 cores. "
        f"{setup.rounds} rounds, alternating the servers; each row is the round with the median "
        f"req/s, and 'range' spans all rounds. Socket errors = connect + read + write + timeout.",
        table(["server", "load", "connections", "req/s range", *LOAD_HEADERS], rows),
        table(
            [
                "load",
                "connections",
                "classify req/s",
                "framework req/s",
                "ceiling req/s",
                "classify ÷ ceiling",
                "framework ÷ ceiling",
            ],
            ratio_rows,
        ),
    )
    eight, top = classify[("single", 8)], ceiling[("single", 8)]
    report.target(
        f"single paragraph, 8 connections ≥ {TARGET_VS_CEILING} × ceiling",
        f"{eight.rps:,.0f} ÷ {top.rps:,.0f} = {eight.rps / top.rps:.2f} "
        f"(without the model: {framework[('single', 8)].rps / top.rps:.2f})",
        eight.rps / top.rps >= TARGET_VS_CEILING,
    )
    many = classify[("single", 64)]
    report.target(
        f"p99 ≤ {TARGET_P99_MS:g} ms at 64 connections, no failed requests",
        f"p99 {many.p99:.1f} ms, {many.non2xx} non-2xx, {many.socket_errors} socket errors "
        f"(all rounds: {sum(r[('single', 64)].failed for r in runs['classify'])} failed)",
        many.p99 <= TARGET_P99_MS and all(r[("single", 64)].failed == 0 for r in runs["classify"]),
    )
    return classify, {"ready": ready, "at ready": memory_ready, "after load": memory_loaded}, ceiling


def report_memory(
    memory: dict, peer_memory: list[tuple[str, int, int | None]] | None, report: Report
) -> None:
    rows = []
    for moment in ("at ready", "after load"):
        for name, rss, pss in memory[moment]:
            rows.append(("service", moment, name, fmt(rss / 1024, 1), fmt(pss / 1024 if pss else None, 1)))
        total_rss = sum(rss for _, rss, _ in memory[moment])
        total_pss = sum(pss or 0 for _, _, pss in memory[moment])
        rows.append(("service", moment, "**total**", fmt(total_rss / 1024, 1), fmt(total_pss / 1024, 1)))
    if peer_memory:
        for name, rss, pss in peer_memory:
            rows.append(
                ("MLServer", "after load", name, fmt(rss / 1024, 1), fmt(pss / 1024 if pss else None, 1))
            )
        rows.append(
            (
                "MLServer",
                "after load",
                "**total**",
                fmt(sum(r for _, r, _ in peer_memory) / 1024, 1),
                fmt(sum(p or 0 for _, _, p in peer_memory) / 1024, 1),
            )
        )
    ready = memory["ready"]
    report.section(
        "5. Memory and start-up",
        "VmRSS from /proc/<pid>/status counts the pages that preloaded workers share with the "
        "master once per process; PSS (/proc/<pid>/smaps_rollup) splits shared pages among them, "
        "so the PSS total is the real footprint. 'after load' is after every HTTP run above.",
        table(["server", "when", "process", "RSS MB", "PSS MB"], rows),
        table(
            ["start-up (gunicorn start → /readyz 200, polled every 20 ms)", "seconds"],
            [(f"start {i + 1}", f"{value:.2f}") for i, value in enumerate(ready)]
            + [("**median**", f"{statistics.median(ready):.2f}")],
        ),
    )
    workers = [rss for name, rss, _ in memory["after load"] if name.startswith("worker")]
    worst = max(workers) / 1024 if workers else float("nan")
    report.target(
        f"≤ {TARGET_WORKER_MB:g} MB RSS per worker",
        f"max {worst:.0f} MB (after load)",
        bool(workers) and worst <= TARGET_WORKER_MB,
    )
    median = statistics.median(ready)
    report.target(f"ready ≤ {TARGET_READY_S:g} s", f"median {median:.2f} s", median <= TARGET_READY_S)


# --------------------------------------------------------------------------- peer


def ensure_peer_venv(venv: Path, report: Report) -> Path:
    """Create the MLServer venv once (the requirements are remembered in a marker file)."""
    wanted = [*PEER_REQUIREMENTS, "-e", str(ROOT)]
    marker = venv / ".bench-requirements"
    python = shutil.which("python3.11") or sys._base_executable
    commands = [
        [python, "-m", "venv", str(venv)],
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", *wanted],
    ]
    report.commands.append(f"# once, to build the MLServer venv (skipped while {marker} matches):")
    for command in commands:
        report.command(command)
    if marker.is_file() and marker.read_text() == " ".join(wanted) and (venv / "bin/mlserver").exists():
        return venv
    progress(f"installing MLServer into {venv} (a few minutes, once)")
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / "install.log", "w") as log:
        for command in commands:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=1200)
    marker.write_text(" ".join(wanted))
    return venv


def peer_model(
    artifact: Path, rows: list[dict], folder: Path, ports: dict[str, int], workers: int
) -> tuple[str, list[str]]:
    """Fit the Pipeline on the corpus with the artifact's analyzer and stance C; write the folder."""
    import joblib
    from sklearn.pipeline import Pipeline

    from model_training.model import make_classifier, make_vectorizer
    from service.classifier import STANCE, Classifier

    classifier = Classifier.load(artifact)
    head = STANCE if STANCE in classifier.heads else classifier.heads[0]
    hyper = classifier.metadata.get("hyperparameters", {})
    c = float((hyper.get("C") or {}).get(head, 8.0))
    pipeline = Pipeline(
        [
            ("tfidf", make_vectorizer(classifier.model.analyzer)),
            ("clf", make_classifier(c, hyper.get("class_weight", "balanced"))),
        ]
    )
    pipeline.fit([row["text"] for row in rows], [row[head] for row in rows])
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, folder / "model.joblib")
    settings = {
        "debug": False,
        "host": "127.0.0.1",
        "http_port": ports["http"],
        "grpc_port": ports["grpc"],
        "metrics_port": ports["metrics"],
        "parallel_workers": workers,
    }
    model_settings = {
        "name": PEER_MODEL,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "bench"},
    }
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    (folder / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    description = (
        f"Pipeline(TfidfVectorizer(analyzer={classifier.model.analyzer!r}), "
        f"LogisticRegression(C={c:g})) for the {head} head"
    )
    return description, classifier.model.labels(head)


def peer_body(text: str) -> dict:
    return {
        "parameters": {"content_type": "str"},
        "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}],
    }


def bench_peer(
    setup: HttpSetup,
    rows: list[dict],
    single_texts: list[str],
    classify: dict | None,
    venv: Path,
    report: Report,
) -> list[tuple[str, int, int | None]]:
    """MLServer under the same single-paragraph loads; returns the memory of its processes."""
    venv = ensure_peer_venv(venv, report)
    folder = setup.folder / "mlserver"
    ports = {"http": free_port(), "grpc": free_port(), "metrics": free_port()}
    progress("peer: fitting the Pipeline")
    description, known = peer_model(setup.artifact, rows, folder, ports, setup.workers)
    for name in ("settings.json", "model-settings.json"):
        content = json.dumps(json.loads((folder / name).read_text()))
        report.commands.append(f"# {folder / name}: {content}")
    lua = write_lua(setup.folder / "peer.lua", [peer_body(text) for text in single_texts])
    path = f"/v2/models/{PEER_MODEL}/infer"
    argv = [str(venv / "bin/mlserver"), "start", str(folder)]
    with serving("mlserver", argv, {}, setup.folder, report, ports["http"], cwd=folder) as server:
        ready = server.wait_ready(f"/v2/models/{PEER_MODEL}/ready", limit=180)
        status, body = http(server.url(path), peer_body(single_texts[0]))
        answer = json.loads(body)
        if status != 200:
            raise RuntimeError(f"MLServer answered {status}: {body[:300]!r}")
        label = answer["outputs"][0]["data"][0]
        if label not in known:
            raise RuntimeError(f"MLServer answered {label!r}, not one of {known}")
        progress(f"MLServer answers {label!r} (ready after {ready:.1f} s)")
        loads = {}
        for connections in CONNECTIONS:
            progress(f"mlserver: single paragraph, {connections} connections")
            loads[connections] = run_wrk(
                server.url(path), lua, connections, setup.duration, setup.warmup, 1, report
            )
        memory = [("main", *memory_kb(server.process.pid))]
        memory.extend((f"child {pid}", *memory_kb(pid)) for pid in descendants(server.process.pid))

    table_rows = []
    ratio_rows = []
    for connections, load in loads.items():
        table_rows.append(("MLServer", connections, *load.cells()))
        ours = classify[("single", connections)] if classify else None
        if ours:
            table_rows.append(("ours (section 3)", connections, *ours.cells()))
            ratio_rows.append((connections, fmt(ours.rps), fmt(load.rps), f"{ours.rps / load.rps:.2f}"))
    report.section(
        "4. Peer: MLServer 1.7.1 + mlserver-sklearn",
        f"{description}, fitted on the corpus and saved with joblib; `mlserver start` with "
        f"parallel_workers={setup.workers} (server-wide settings.json: the model-level field is "
        f"deprecated), debug off, HTTP/gRPC/metrics on free 127.0.0.1 ports; V2 REST "
        f"`POST {path}` with one BYTES input (content type `str`); same wrk settings and paragraphs. "
        f"MLServer answers one head's label; ours answers three heads with every score. "
        f"Sanity check: MLServer labelled the first paragraph `{label}`; ready after {ready:.1f} s.",
        table(["server", "connections", *LOAD_HEADERS], table_rows),
        table(["connections", "ours req/s", "MLServer req/s", "ours ÷ MLServer"], ratio_rows)
        if ratio_rows
        else "",
    )
    if classify:
        ours, theirs = classify[("single", 8)].rps, loads[8].rps
        report.target(
            f"single paragraph, 8 connections ≥ {TARGET_VS_PEER} × MLServer",
            f"{ours:,.0f} ÷ {theirs:,.0f} = {ours / theirs:.2f}",
            ours / theirs >= TARGET_VS_PEER,
        )
    return memory


# --------------------------------------------------------------------------- training


def bench_training(folder: Path, report: Report) -> None:
    runs = [("default corpus", ["--data", "model_training/corpus"], TARGET_TRAIN_S)]
    if TNEWS.is_file():
        runs.append(
            (
                "TNEWS",
                ["--data", str(Path("..") / TNEWS.relative_to(ROOT.parent)), "--format", "tnews"],
                TARGET_TNEWS_S,
            )
        )
    rows = []
    for name, args, target in runs:
        artifact = folder / f"train-{name.split()[0].lower()}"
        command = [str(BIN / "python"), "-m", "model_training.train", *args, "--artifact", str(artifact)]
        report.command(command)
        progress(f"training: {name}")
        started = time.monotonic()
        limit = TRAIN_LIMIT_FACTOR * target
        with open(folder / f"train-{name.split()[0].lower()}.log", "w") as log:
            # Its own session: on time-out the whole group goes, joblib's workers included.
            process = subprocess.Popen(
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                code: int | str = process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                code = f"stopped after {limit:g} s"
            finally:
                end_group(process)
        wall = time.monotonic() - started
        recorded = None
        if code == 0:
            recorded = json.loads((artifact / "metadata.json").read_text())["training_seconds"]
        shutil.rmtree(artifact, ignore_errors=True)
        rows.append((name, code, f"{wall:.1f}", fmt(recorded, 1), f"≤ {target:g} s"))
        report.target(f"{name} training ≤ {target:g} s", f"{wall:.1f} s wall", code == 0 and wall <= target)
    notes = "" if TNEWS.is_file() else f"TNEWS skipped: {TNEWS} is absent."
    report.section(
        "6. Training time",
        "Wall clock of the whole command (start-up, loading, cross-validation grid, final fit, "
        "artifact) and the `training_seconds` it records; TRAIN_JOBS as in the environment "
        f"(default 2). {notes}",
        table(["data", "exit", "wall s", "recorded s", "target"], rows),
    )


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", type=Path, default=ROOT / "artifacts" / "default")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk warm-up before each run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds of the HTTP servers (median shown)"
    )
    parser.add_argument("--budget", type=float, default=8.0, help="time limit of each in-process loop")
    parser.add_argument("--skip-training", action="store_true", help="skip section 6")
    parser.add_argument("--skip-peer", action="store_true", help="skip MLServer (section 4)")
    parser.add_argument("--skip-http", action="store_true", help="skip sections 3-5 (no servers)")
    parser.add_argument("--skip-inprocess", action="store_true", help="skip sections 1 and 2")
    parser.add_argument("--peer-venv", type=Path, default=DEFAULT_PEER_VENV)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    artifact = args.artifact.resolve()
    if not (artifact / "metadata.json").is_file():
        print(
            f"error: no artifact at {artifact}; run `make artifacts/default/metadata.json`", file=sys.stderr
        )
        return 2
    needs_wrk = not args.skip_http or not args.skip_peer
    if needs_wrk and shutil.which("wrk") is None:
        print(
            "error: wrk is not installed: `apt-get install -y wrk` (Debian), "
            "or run with --skip-http --skip-peer",
            file=sys.stderr,
        )
        return 2

    from model_training.corpus import load_corpus

    report = Report()
    rows = load_corpus()
    texts = [row["text"] for row in rows]
    load_before = os.getloadavg()
    print("# Speed benchmark")
    print(
        f"\n{os.cpu_count()} cores; load average {load_before[0]:.2f} at start (other work shares the "
        "machine: figures are noisy). Python "
        f"{sys.version.split()[0]}; artifact `{artifact}`; corpus {len(texts):,} paragraphs."
    )

    if not args.skip_inprocess:
        bench_inprocess(artifact, texts, args.budget, report)
        report.commands.append(
            "# in-process (.venv/bin/python): Classifier.load(artifact).classify([text]) and "
            ".classify(batch of 64); model_training.text.normalize, tokenize; jieba.lcut, rjieba.cut"
        )
        bench_tokenisers(texts, args.budget, report)

    with tempfile.TemporaryDirectory(prefix="zh-news-bench-") as temporary:
        folder = Path(temporary)
        classify = memory = peer_memory = None
        if not args.skip_http or not args.skip_peer:
            rng = random.Random(SEED)
            single = rng.sample(texts, min(HTTP_SINGLE_BODIES, len(texts)))
            shuffled = rng.sample(texts, len(texts))
            batches = [shuffled[i * BATCH : (i + 1) * BATCH] for i in range(HTTP_BATCH_BODIES)]
            setup = HttpSetup(
                folder=folder,
                artifact=artifact,
                single_lua=write_lua(folder / "single.lua", [{"text": text} for text in single]),
                batch_lua=write_lua(folder / "batch.lua", [{"paragraphs": batch} for batch in batches]),
                duration=args.duration,
                warmup=args.warmup,
                workers=int(os.environ.get("WEB_CONCURRENCY", "2")),
                threads=int(os.environ.get("THREADS", "2")),
                rounds=args.rounds,
            )
            if not args.skip_http:
                classify, memory, _ = bench_http(setup, single[0], report)
            if not args.skip_peer:
                peer_memory = bench_peer(setup, rows, single, classify, args.peer_venv, report)
            if memory:
                report_memory(memory, peer_memory, report)
        if not args.skip_training:
            bench_training(folder, report)

    load_after = os.getloadavg()
    report.section(
        "Targets (issue 5)",
        table(["target", "measured", "verdict"], report.targets),
        f"Load average {load_before[0]:.2f} at start, {load_after[0]:.2f} at the end (1-minute).",
    )
    report.section("Commands", "```\n" + "\n".join(report.commands) + "\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
