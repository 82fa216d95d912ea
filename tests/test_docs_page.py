"""The interactive API docs, rendered by a real headless browser against the real server."""

from __future__ import annotations

import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",
]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_swagger_ui_renders_the_operations_offline(live_port, tmp_path):
    # Swagger UI's scripts come from this server, so the page renders with no network at all.
    completed = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            f"http://127.0.0.1:{live_port}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    dom = completed.stdout
    assert "swagger-ui" in dom, completed.stderr[-2000:]
    # The operations of the generated OpenAPI document are on the page.
    for path in ("/classify", "/healthz", "/readyz", "/model"):
        assert f'data-path="{path}"' in dom
    assert "Chinese news classifier" in dom
