"""The classification service: ``create_app`` builds the Flask application."""

from __future__ import annotations

import logging
import os
import sys

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from model_training.files import ArtifactError

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
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    # Swagger UI is served from the swagger-ui-bundle package: the docs work offline.
    "OPENAPI_SWAGGER_UI_URL": "/docs/static/",
    "LOG_TEXT": False,
    "LOG_LEVEL": "INFO",
}
# Environment variables read at start-up (documented in the README), with their types.
ENVIRONMENT = {
    "MODEL_DIR": str,
    "MAX_PARAGRAPHS": int,
    "MAX_PARAGRAPH_CHARS": int,
    "MAX_BODY_BYTES": int,
    "LOG_LEVEL": str,
    "LOG_TEXT": lambda value: value.lower() in ("1", "true", "yes"),
}


class JSONProvider(DefaultJSONProvider):
    """UTF-8 JSON, keys in order; \\u escapes when a lone surrogate (echoed from a bad
    request in an error message) could not be encoded."""

    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj, **kwargs) -> str:
        text = super().dumps(obj, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = super().dumps(obj, **{**kwargs, "ensure_ascii": True})
        return text


def _from_environment() -> dict:
    config = {}
    for name, kind in ENVIRONMENT.items():
        if os.environ.get(name):
            key = "MAX_CONTENT_LENGTH" if name == "MAX_BODY_BYTES" else name
            config[key] = kind(os.environ[name])
    return config


def create_app(config: dict | None = None) -> Flask:
    """Build the app and load its model once; exit with a clear message if it cannot."""
    import swagger_ui_bundle
    from flask import Blueprint

    from service.classifier import Classifier
    from service.errors import ServiceApi, require_json
    from service.observability import configure_logging, install
    from service.views import blp

    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.from_mapping(DEFAULTS)
    app.config.update(_from_environment())
    app.config.update(config or {})
    configure_logging(app.config["LOG_LEVEL"])

    try:
        classifier = Classifier.load(app.config["MODEL_DIR"])
    except ArtifactError as exc:
        message = f"cannot load model from {app.config['MODEL_DIR']}: {exc}"
        LOG.critical(message)
        print(f"error: {message}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None
    app.extensions["classifier"] = classifier

    install(app)
    app.extensions["metrics"].model.labels(**classifier.ref).set(1)
    app.before_request(require_json)
    api = ServiceApi(app)
    api.register_blueprint(blp)
    app.register_blueprint(
        Blueprint(
            "swagger_ui",
            __name__,
            static_folder=swagger_ui_bundle.swagger_ui_path,
            static_url_path="/docs/static",
        )
    )
    LOG.info("model loaded", extra={"model": classifier.ref, "model_dir": str(app.config["MODEL_DIR"])})
    return app


def reload_model(app: Flask) -> bool:
    """Load the artifact again (on SIGHUP); keep the current model if the new one fails a check."""
    from service.classifier import Classifier

    old = app.extensions["classifier"]
    try:
        new = Classifier.load(app.config["MODEL_DIR"])
    except ArtifactError as exc:
        LOG.error(f"model reload refused, keeping {old.ref['version']}: {exc}")
        return False
    app.extensions["classifier"] = new
    metrics = app.extensions["metrics"]
    metrics.model.labels(**old.ref).set(0)
    metrics.model.labels(**new.ref).set(1)
    LOG.info("model reloaded", extra={"model": new.ref, "previous": old.ref})
    return True
