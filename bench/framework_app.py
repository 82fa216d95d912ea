"""The service with its model taken out: the floor that no model can go below.

``bench/speed.py`` serves it like the real service and the ceiling app: the real
``service.create_app()`` — schemas, flask-smorest, request ids, JSON access log,
Prometheus metrics — whose classifier answers every request with one precomputed result.
Its throughput is what the service would reach with a model that cost nothing, so it
splits the gap to the ceiling app into the model's share and the framework's share.
"""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    from service import create_app as service_app

    app = service_app()
    classifier = app.extensions["classifier"]
    answer = classifier.classify(["據海關數據，今年前十個月中俄雙邊貿易額同比增長百分之三。"])
    # An instance attribute shadows the method: every request gets the same answer.
    classifier.classify = lambda paragraphs, heads=None, targets=None: answer
    return app
