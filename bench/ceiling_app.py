"""The throughput ceiling of the HTTP stack: a minimal Flask app that answers a constant JSON.

``bench/speed.py`` serves it with the service's own gunicorn settings
(``gunicorn -c service/gunicorn.conf.py 'bench.ceiling_app:create_app()'``; gunicorn
prefers a positional application argument over ``wsgi_app`` from the configuration) and
sends it the same load as the real service. The difference between the two is the cost
of the model, the schemas, flask-smorest, logging and metrics: everything but gunicorn,
Flask routing and the socket.
"""

from __future__ import annotations

import json

from flask import Flask, Response, request

# A real single-paragraph answer of the default model, frozen: the same size on the wire.
ANSWER = json.dumps(
    {
        "model": {"name": "zh-news-stance", "version": "ceiling"},
        "results": [
            {
                "index": 0,
                "characters": 120,
                "predictions": {
                    "stance": {
                        "label": "neutral",
                        "scores": {"critical": 0.1, "neutral": 0.8, "pro_beijing": 0.1},
                    },
                    "topic": {
                        "label": "economy",
                        "scores": {
                            "diplomacy": 0.05,
                            "economy": 0.6,
                            "energy": 0.05,
                            "finance": 0.05,
                            "military": 0.05,
                            "other": 0.05,
                            "politics": 0.05,
                            "society": 0.05,
                            "technology": 0.05,
                        },
                    },
                    "sentiment": {
                        "label": "neutral",
                        "scores": {"negative": 0.2, "neutral": 0.6, "positive": 0.2},
                    },
                },
            }
        ],
    },
    ensure_ascii=False,
).encode("utf-8")


def create_app() -> Flask:
    """An app with ``POST /classify`` (reads the body, answers ``ANSWER``) and ``GET /readyz``."""
    app = Flask(__name__)

    @app.post("/classify")
    def classify() -> Response:
        request.get_data()  # read the body, as any real endpoint must
        return Response(ANSWER, mimetype="application/json")

    @app.get("/readyz")
    def ready() -> Response:
        return Response(b'{"status":"ready"}', mimetype="application/json")

    return app
