"""HTTP endpoints: thin views that load through the schema, classify and dump."""

from __future__ import annotations

import json

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from webargs.flaskparser import FlaskParser

from service.classifier import STANCE, Classifier
from service.schemas import ClassifyRequest, ClassifyResponse, ErrorResponse, Status, split_article


class Parser(FlaskParser):
    """webargs' parser, but JSON nested past Python's recursion limit is a 400, not a crash."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            raise json.JSONDecodeError("JSON nested too deeply", "[", 0) from None


blp = Blueprint("classify", __name__, description="Classify Chinese news paragraphs.")
blp.ARGUMENTS_PARSER = Parser()


def classifier() -> Classifier:
    return current_app.extensions["classifier"]


@blp.route("/classify")
class Classify(MethodView):
    @blp.arguments(ClassifyRequest())  # an instance: no schema built per request
    @blp.response(200, ClassifyResponse)
    @blp.alt_response(400, schema=ErrorResponse, description="The body is empty or not valid JSON.")
    @blp.alt_response(413, schema=ErrorResponse, description="The body is over the size limit (2 MiB).")
    @blp.alt_response(415, schema=ErrorResponse, description="The Content-Type is not application/json.")
    def post(self, body: dict):
        """Classify one paragraph, a batch of paragraphs, or a whole article.

        Every head of the model (stance toward Beijing, topic, sentiment) is returned
        unless `heads` names a subset.
        """
        model = classifier()
        heads = body.get("heads") or model.heads
        unknown = [head for head in heads if head not in model.heads]
        if unknown:
            abort(
                422,
                message="Unknown head.",
                errors={
                    "json": {
                        "heads": [
                            f"Unknown head {', '.join(unknown)}; this model has {', '.join(model.heads)}."
                        ]
                    }
                },
            )
        target = body.get("target")
        if model.target_aware and not target:
            abort(
                422,
                message="This model predicts stance toward a target.",
                errors={"json": {"target": ["Required by this model."]}},
            )
        if "text" in body:
            paragraphs = [body["text"]]
        elif "paragraphs" in body:
            paragraphs = body["paragraphs"]
        else:
            paragraphs = split_article(body["article"])
        results, probabilities = model.classify(paragraphs, heads, target)
        g.paragraphs = len(paragraphs)
        current_app.extensions["metrics"].count_results(results)
        response = {"model": model.ref, "results": results}
        if "article" in body and STANCE in probabilities:
            response["summary"] = model.summarize(paragraphs, probabilities[STANCE])
        # Serialised here rather than dumped through ClassifyResponse: the dictionary is
        # built to that schema already (the tests validate responses against the OpenAPI
        # document), and a marshmallow dump of every nested result costs more than the model.
        return current_app.response_class(
            json.dumps(response, ensure_ascii=False, separators=(",", ":")), mimetype="application/json"
        )


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, Status)
    def get(self):
        """Liveness: the process answers."""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, Status)
    @blp.alt_response(503, schema=Status)
    def get(self):
        """Readiness: the model is loaded and verified."""
        if current_app.extensions.get("classifier") is None:
            return {"status": "loading"}, 503
        return {"status": "ready"}


@blp.route("/model")
class Model(MethodView):
    @blp.response(200)
    def get(self):
        """The artifact's metadata: heads, labels, scores, provenance, versions."""
        return classifier().metadata
