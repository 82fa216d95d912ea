"""One JSON envelope for every error."""

from __future__ import annotations

import logging

from flask import request
from flask_smorest import Api
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType

from service.schemas import ErrorResponse

LOG = logging.getLogger("service")
JSON_TYPES = ("application/json",)


class ServiceApi(Api):
    """flask-smorest's Api with the project's error envelope."""

    ERROR_SCHEMA = ErrorResponse

    def handle_http_exception(self, error: HTTPException):
        if error.code >= 500:
            # Never leak internals: the original exception goes to the log only.
            LOG.error(
                "unhandled error on %s %s",
                request.method,
                request.path,
                exc_info=getattr(error, "original_exception", None) or error,
            )
        payload = {"code": error.code, "status": error.name, "message": _message(error)}
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        if errors:
            payload["errors"] = errors
            if "message" not in data:
                payload["message"] = (
                    "The request body is not valid JSON."
                    if error.code == 400
                    else "The request body is invalid; see errors."
                )
        headers = data.get("headers") or {}
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers = {**headers, "Allow": ", ".join(error.valid_methods)}
        return payload, error.code, headers


def _message(error: HTTPException) -> str:
    data = getattr(error, "data", None) or {}
    if data.get("message"):
        return str(data["message"])
    if error.code >= 500:
        return "Internal error; it has been logged."
    return error.description or error.name


def require_json() -> None:
    """Refuse request bodies that are not JSON, or empty, before anything parses them."""
    if request.method not in ("POST", "PUT", "PATCH") or request.routing_exception is not None:
        return  # unknown paths and methods get their 404 or 405 first
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # Compressed bodies are refused outright: no decompression, so no gzip bomb.
        raise UnsupportedMediaType(f"Content-Encoding {encoding} is not accepted; send plain JSON.")
    if request.mimetype not in JSON_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {request.mimetype or 'none'}."
        )
    if request.content_length == 0 or (request.content_length is None and not request.get_data(cache=True)):
        raise BadRequest("The request body is empty; send a JSON object.")
