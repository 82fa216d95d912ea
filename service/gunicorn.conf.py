"""gunicorn settings of the service: the tests, `make serve` and the container all use them.

PORT (8000), HOST (127.0.0.1; the container sets 0.0.0.0), WEB_CONCURRENCY (workers,
default 2 = cores), THREADS (per worker, default 2), TIMEOUT (seconds per request,
default 30). The app is preloaded so that workers share the model's pages with the
master; SIGHUP reloads the artifact from MODEL_DIR and replaces the workers gracefully.
"""

import gc
import os
import shutil
import tempfile

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread: a connection that is slow to send its body holds one thread, not a whole worker.
# Two threads per worker, measured with bench/speed.py on this 2-core machine (single
# paragraphs, req/s at 8 / 64 connections): 4 threads 1,076 / 459 (GIL contention, p99
# 172 ms), 2 threads 1,437 / 1,402 (p99 85 ms), 1 thread 1,354 / 1,210; 3 workers x 1
# thread 947 / 955, 4 x 1 1,278 / 1,181, 2 x 3 1,187 / 1,319.
worker_class = "gthread"
threads = int(os.environ.get("THREADS", "2"))
preload_app = True
# A worker whose request runs longer than this is killed and replaced (per-request limit).
timeout = int(os.environ.get("TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
limit_request_line = 4094
limit_request_fields = 50
accesslog = None  # the app logs one JSON line per request to stdout
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
wsgi_app = "service:create_app()"
# Heartbeat files of the workers; /dev/shm or a tmpfs keeps a read-only root file system working.
worker_tmp_dir = os.environ.get("WORKER_TMP_DIR") or None

# Prometheus multiprocess mode: each worker writes its samples into this folder. It is
# emptied here, when this file is first read — before the app is preloaded, so the model's
# gauge written by the master survives — and not again when SIGHUP re-reads this file.
if not os.environ.get("CLASSIFIER_METRICS_PREPARED"):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="classifier-metrics-")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    os.environ["CLASSIFIER_METRICS_PREPARED"] = "1"


def on_starting(server):
    # The preloaded app's objects never change: keep the collector away from them, so
    # that workers do not copy those pages by touching reference counts in GC passes.
    gc.collect()
    gc.freeze()


def on_reload(server):
    # Runs in the master on SIGHUP, before the new workers are forked from it.
    from service import reload_model

    reload_model(server.app.wsgi())
    # The new model was built after on_starting's freeze: freeze it too before the new
    # workers are forked, or every worker's collector walks its millions of objects.
    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
