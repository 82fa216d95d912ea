"""Soak test: many mixed valid and invalid requests against the production gunicorn setup.

``python bench/soak.py [--requests 100000] [--connections 32] [--artifact artifacts/default]``
starts ``gunicorn -c service/gunicorn.conf.py`` on a free 127.0.0.1 port, sends the requests
over keep-alive connections from client threads, and prints: requests by status class,
connection errors, throughput, and the RSS of every worker after the first and before the
last 10% of requests (growth must stay under 10%). Bounded in count and in time
(``--max-seconds``). A benchmark script, not a test; nothing leaves the loopback interface.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JSON = {"Content-Type": "application/json"}

# (body, headers): a mix of valid paragraphs, batches, articles and hostile bodies.
BODIES = [
    (json.dumps({"text": "據海關數據，今年前十個月中俄雙邊貿易額同比增長百分之三。"}), JSON),
    (json.dumps({"text": "北京近月频繁派遣军机逼近台湾防空识别区，分析人士认为意在恫吓台北。"}), JSON),
    (json.dumps({"paragraphs": ["比亞迪（BYD）在匈牙利的新廠預計 2026 年投產。"] * 16}), JSON),
    (
        json.dumps(
            {"article": "外交部發言人表示。\n\n中俄兩軍將舉行聯合演習。\n人民幣跨境支付系統參與者增加。"}
        ),
        JSON,
    ),
    (json.dumps({"text": ""}), JSON),
    ('{"text": "truncated', JSON),
    (json.dumps({"text": "中文"}), {"Content-Type": "text/plain"}),
    (json.dumps({"paragraphs": ["x"] * 257}), JSON),
    (json.dumps({"text": "😀😀😀"}), JSON),
    (json.dumps({"text": 42}), JSON),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_ready(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not become ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--artifact", default=str(ROOT / "artifacts" / "default"))
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args(argv)

    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {**os.environ, "MODEL_DIR": args.artifact, "PORT": str(port)}
    with open(logs / "stdout", "w") as out, open(logs / "stderr", "w") as err:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "service/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
    try:
        wait_ready(port, time.monotonic() + 60)
        counter = itertools.count()
        statuses: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        lock = threading.Lock()
        tenth = max(args.requests // 10, 1)
        samples: dict[str, dict[int, float]] = {}
        deadline = time.monotonic() + args.max_seconds

        def sample(name: str) -> None:
            samples[name] = {pid: rss_mb(pid) for pid in worker_pids(server.pid)}

        def client() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.monotonic() < deadline:
                number = next(counter)
                if number >= args.requests:
                    break
                if number == tenth:
                    sample("after first 10%")
                if number == args.requests - tenth:
                    sample("before last 10%")
                body, headers = BODIES[number % len(BODIES)]
                try:
                    connection.request("POST", "/classify", body=body.encode(), headers=headers)
                    response = connection.getresponse()
                    response.read()
                    key = f"{response.status // 100}xx"
                    if response.getheader("Connection", "").lower() == "close":
                        connection.close()
                except (OSError, http.client.HTTPException) as error:
                    key = None
                    with lock:
                        errors[type(error).__name__] += 1
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                if key:
                    with lock:
                        statuses[key] += 1
            connection.close()

        started = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(args.connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)

    total = sum(statuses.values()) + sum(errors.values())
    print(
        f"## Soak: {total:,} requests, {args.connections} connections, {elapsed:.0f} s "
        f"({total / elapsed:,.0f} req/s)\n"
    )
    print("| outcome | count |\n|---|---|")
    for key in ("2xx", "4xx", "5xx"):
        print(f"| {key} | {statuses[key]:,} |")
    print(f"| connection errors | {sum(errors.values()):,} {dict(errors) or ''} |")
    first, last = samples.get("after first 10%", {}), samples.get("before last 10%", {})
    print("\n| worker | RSS after first 10% (MB) | RSS before last 10% (MB) | growth |\n|---|---|---|---|")
    for pid in sorted(set(first) | set(last)):
        a, b = first.get(pid), last.get(pid)
        growth = f"{(b - a) / a:+.1%}" if a and b else "worker replaced"
        print(f"| {pid} | {a or 0:.1f} | {b or 0:.1f} | {growth} |")
    ok = (
        statuses["5xx"] == 0
        and not errors
        and all(last.get(pid, 0) <= first[pid] * 1.10 for pid in first if pid in last)
    )
    print(f"\nverdict: {'PASS' if ok else 'FAIL'} (zero 5xx, zero connection errors, RSS growth < 10%)")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
