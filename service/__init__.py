"""The classification service: ``create_app`` builds the Flask application."""

from __future__ import annotations

import logging
import os
import sys

from flask import Flask

from model_training.artifact import ArtifactError

LOG = logging.getLogger("service")

DEFAULTS = {
    "MODEL_DIR": "artifacts/default",
    "MAX_PARAGRAPHS": 256,
    "MAX_PARAGRAPH_CHARS": 20_000,
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "API_TITLE": "Chinese news classifier",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "JSON_SORT_KEYS": False,
}
# Environment variables read at start-up (documented in the README), with their types.
ENVIRONMENT = {
    "MODEL_DIR": str,
    "MAX_PARAGRAPHS": int,
    "MAX_PARAGRAPH_CHARS": int,
    "MAX_BODY_BYTES": int,
}


def _from_environment() -> dict:
    config = {}
    for name, kind in ENVIRONMENT.items():
        if os.environ.get(name):
            key = "MAX_CONTENT_LENGTH" if name == "MAX_BODY_BYTES" else name
            config[key] = kind(os.environ[name])
    return config


def create_app(config: dict | None = None) -> Flask:
    """Build the app and load its model once; exit with a clear message if it cannot."""
    from service.classifier import Classifier
    from service.errors import ServiceApi, require_json
    from service.views import blp

    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.update(_from_environment())
    app.config.update(config or {})
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    try:
        app.extensions["classifier"] = Classifier.load(app.config["MODEL_DIR"])
    except ArtifactError as exc:
        message = f"cannot load model from {app.config['MODEL_DIR']}: {exc}"
        LOG.critical(message)
        print(f"error: {message}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None

    api = ServiceApi(app)
    api.register_blueprint(blp)
    app.before_request(require_json)
    return app
