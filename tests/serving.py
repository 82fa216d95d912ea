"""A real gunicorn serving the app, for end-to-end tests: started as the container starts it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def container_command() -> list[str]:
    """The CMD of the Dockerfile: the tests start exactly what the container starts."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.MULTILINE)
    command = json.loads(cmd)
    # Resolve the executable in this environment, as the container's PATH does.
    command[0] = str(Path(sys.executable).with_name(command[0]))
    return command


def request(port: int, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


class Server:
    """A gunicorn process whose output goes to files: a full pipe would block its workers."""

    def __init__(self, model_dir: Path, port: int, **env) -> None:
        environment = {
            **os.environ,
            "MODEL_DIR": str(model_dir),
            "PORT": str(port),
            "WEB_CONCURRENCY": "2",
            **env,
        }
        self.folder = Path(tempfile.mkdtemp(prefix="gunicorn-"))
        with open(self.folder / "stdout", "w") as out, open(self.folder / "stderr", "w") as err:
            self.process = subprocess.Popen(
                container_command(), cwd=ROOT, env=environment, stdout=out, stderr=err
            )
        self.port = port

    @property
    def stdout(self) -> str:
        return (self.folder / "stdout").read_text(encoding="utf-8")

    @property
    def stderr(self) -> str:
        return (self.folder / "stderr").read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def exit_code(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)


def start(model_dir: Path, port: int, **env) -> Server:
    return Server(model_dir, port, **env)


def wait_ready(server: Server, port: int, attempts: int = 300) -> None:
    for _ in range(attempts):
        if server.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {server.stderr}")
        try:
            if request(port, "/readyz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise AssertionError("gunicorn did not become ready")
