"""Benchmark scripts (``make benchmark``); ``bench.ceiling_app`` is served by gunicorn."""
