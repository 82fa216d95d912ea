# Chinese news classifier. `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= model_training/corpus
FORMAT ?=
ARTIFACT ?= artifacts/default
REPORT ?= reports/$(notdir $(ARTIFACT))
PORT ?= 8000
CORPUS := $(shell find model_training/corpus -name '*.jsonl' 2>/dev/null)
SOURCES := $(wildcard model_training/*.py)

.DEFAULT_GOAL := help
.PHONY: help install serve train test evaluate corpus-report lint benchmark benchmark-accuracy soak clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed ## Create .venv and install the project with its dev tools

# The model files, not metadata.json: `make evaluate` writes its figures into the metadata.
artifacts/default/serving.npz: $(CORPUS) $(SOURCES) | $(BIN)/.installed
	$(BIN)/python -m model_training.train --data model_training/corpus --artifact artifacts/default

serve: $(BIN)/.installed artifacts/default/serving.npz ## Install, train the default model if needed, serve on 127.0.0.1:$(PORT)
	MODEL_DIR=$${MODEL_DIR:-artifacts/default} PORT=$(PORT) $(BIN)/gunicorn -c service/gunicorn.conf.py

train: $(BIN)/.installed ## Train: make train [DATA=file] [FORMAT=jsonl|csv|tsv|nlpcc2016|chnsenticorp|tnews] [ARTIFACT=dir]
	$(BIN)/python -m model_training.train --data $(DATA) --artifact $(ARTIFACT) $(if $(FORMAT),--format $(FORMAT))

test: $(BIN)/.installed ## Run the test suite
	$(BIN)/python -m pytest

evaluate: $(BIN)/.installed ## Evaluate an artifact: make evaluate [ARTIFACT=dir] (report in reports/)
	@# The default model is rebuilt when the corpus or the training code changed; another artifact only if missing.
	@$(if $(filter artifacts/default,$(ARTIFACT)),$(MAKE) --no-print-directory artifacts/default/serving.npz,test -f $(ARTIFACT)/metadata.json || $(MAKE) --no-print-directory train)
	$(BIN)/python -m model_training.evaluate --artifact $(ARTIFACT) --report $(REPORT)

corpus-report: $(BIN)/.installed ## Print the corpus tables and check its minimums
	$(BIN)/python -m model_training.corpus

lint: $(BIN)/.installed ## ruff check and format check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

benchmark: $(BIN)/.installed artifacts/default/serving.npz ## Speed benchmarks (tables)
	$(BIN)/python bench/speed.py

benchmark-accuracy: $(BIN)/.installed ## Public benchmarks through make train (tables)
	$(BIN)/python bench/accuracy.py

soak: $(BIN)/.installed artifacts/default/serving.npz ## 100,000 mixed requests at 32 connections (not in CI)
	$(BIN)/python bench/soak.py --requests 100000 --connections 32

clean: ## Remove artifacts and reports (keeps .venv)
	rm -rf artifacts/default reports
