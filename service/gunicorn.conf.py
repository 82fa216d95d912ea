"""gunicorn settings of the service: the tests, `make serve` and the container all use them.

PORT (8000), HOST (127.0.0.1; the container sets 0.0.0.0), WEB_CONCURRENCY (workers,
default 2 = cores), THREADS (per worker, default 4), TIMEOUT (seconds, default 30).
The app is preloaded so that workers share the model's pages with the master.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads let one worker keep serving while another connection is slow to send its body.
worker_class = "gthread"
threads = int(os.environ.get("THREADS", "4"))
preload_app = True
timeout = int(os.environ.get("TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Bound what a client may send before the app sees it (the app itself limits bodies to 2 MiB).
limit_request_line = 4094
limit_request_fields = 50
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
wsgi_app = "service:create_app()"
# Heartbeat files of the workers; /dev/shm or a tmpfs keeps a read-only root file system working.
worker_tmp_dir = os.environ.get("WORKER_TMP_DIR") or None
