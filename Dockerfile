# syntax=docker/dockerfile:1
# Build: docker build -t zh-news-classifier .   Run: docker run -p 8000:8000 zh-news-classifier
# Own model: docker run -v $PWD/artifacts/mine:/models/mine:ro -e MODEL_DIR=/models/mine ...

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY model_training ./model_training
COPY service ./service
RUN pip install .
# Train the default model at build time from the corpus shipped in the image.
RUN python -m model_training.train --data model_training/corpus --artifact /opt/artifacts/default

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /opt/artifacts /app/artifacts
COPY service/gunicorn.conf.py ./service/gunicorn.conf.py
# Read-only root file system friendly: nothing is written outside /tmp (mount a tmpfs there).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    MODEL_DIR=/app/artifacts/default \
    TMPDIR=/tmp \
    WORKER_TMP_DIR=/tmp
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PORT', '8000'), timeout=2)"]
CMD ["gunicorn", "-c", "service/gunicorn.conf.py"]
