"""Request ids, one JSON log line per request, and Prometheus metrics.

Metrics stay correct with several gunicorn workers: when ``PROMETHEUS_MULTIPROC_DIR`` is
set (gunicorn.conf.py sets it), every worker writes its samples there and ``/metrics``
aggregates them with prometheus_client's multiprocess collector.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LOG = logging.getLogger("service.access")
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in self.RESERVED})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send the service's logs to stdout as JSON lines (once per process)."""
    logger = logging.getLogger("service")
    if any(getattr(h, "_service_json", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler._service_json = True
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class Metrics:
    """The service's Prometheus metrics, registered per app (tests build several apps)."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multiprocess mode samples go to files; nothing is registered in-process.
        self.registry = None if self.multiprocess else CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "classifier_http_requests",
            "HTTP requests by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "classifier_http_request_duration_seconds",
            "Request latency by endpoint.",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.paragraphs = Counter("classifier_paragraphs", "Paragraphs classified.", registry=registry)
        self.predictions = Counter(
            "classifier_predictions", "Predicted labels by head.", ["head", "label"], registry=registry
        )
        self.model = Gauge(
            "classifier_model_info",
            "The loaded model (value 1).",
            ["name", "version"],
            registry=registry,
            multiprocess_mode="liveall",
        )
        self._children: dict = {}

    def exposition(self) -> bytes:
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

    def count_results(self, results: list[dict]) -> None:
        self.paragraphs.inc(len(results))
        for result in results:
            for head, prediction in result["predictions"].items():
                self.child(self.predictions, head, prediction["label"]).inc()

    def child(self, metric, *labels: str):
        """``metric.labels(*labels)``, kept: the labelled child of a metric never changes, and
        ``labels()`` locks and validates on every call (six calls a request)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found


def install(app: Flask) -> None:
    """Attach request ids, access logging and metrics to ``app``."""
    metrics = Metrics()
    app.extensions["metrics"] = metrics
    log_text = app.config.get("LOG_TEXT", False)

    @app.before_request
    def start() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        # Any token is a valid HTTP method: unknown ones share one label, or a client could
        # grow the metric (and its memory) without bound.
        method = request.method if request.method in METHODS else "other"
        metrics.child(metrics.requests, endpoint, method, str(response.status_code)).inc()
        metrics.child(metrics.latency, endpoint).observe(elapsed)
        extra = {
            "request_id": request_id,
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 2),
            "bytes_in": request.content_length or 0,
            "remote": request.remote_addr,
        }
        if "paragraphs" in g:
            extra["paragraphs"] = g.paragraphs
        if log_text and request.is_json and request.content_length:
            extra["body"] = request.get_data(as_text=True)[:5000]
        LOG.info("request", extra=extra)
        return response

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)
