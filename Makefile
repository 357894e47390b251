# revertible: `make demo` runs the pipeline end to end on generated data; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast bench bench-trial bench-walkforward bench-memory bench-scoring lint clean mlflow-ui

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Whole pipeline on a generated market; logs to experiments/mlflow.db.
demo: $(STAMP)
	$(BIN)/revertible demo --out demo-out

## Test suite with the doctests of src/ (real-data tests read $$REVERTIBLE_DATA, default ../shared/data).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --durations=10

## The inner loop: everything but the tests marked slow (under 2 minutes on 2 idle cores).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow" --durations=5

## Throughput (pair-bars/s), wall time and peak memory on the shared spot data.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

## Strategy-search trials (wall, CPU, caches, stage breakdown) on the shared spot data.
bench-trial: $(STAMP)
	$(BIN)/python benchmarks/bench_trial.py --config configs/binance-spot-1h.yaml --trials 3

## The walk-forward backtest of a config in-process: each stage's wall/CPU s, the process CPU,
## peak RSS, load average (CONFIG=... for another config).
bench-walkforward: $(STAMP)
	$(BIN)/python benchmarks/bench_walkforward.py --config $(or $(CONFIG),configs/binance-spot-1h.yaml)

## Peak RSS of `revertible episodes` and of the walk-forward on 34, 68 and 136 assets against
## the pair count (fresh processes; minutes).
bench-memory: $(STAMP)
	$(BIN)/python benchmarks/bench_memory.py --config $(or $(CONFIG),configs/binance-spot-1h.yaml)

## Historical scoring of ~260k divergences (generated 40 assets x 912 days; trains a model first,
## not timed); BENCH_DIR=dir keeps the panel and reuses its model on the next run.
bench-scoring: $(STAMP)
	$(BIN)/python benchmarks/bench.py --scoring-panel $(if $(BENCH_DIR),--panel-dir $(BENCH_DIR))

## Style and static checks (ruff, configured in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks research

## MLflow UI on 127.0.0.1:5000; the URL opens the experiments in the "Model training" view.
mlflow-ui: $(STAMP)
	@echo "open http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
	$(BIN)/mlflow ui --host 127.0.0.1 --backend-store-uri sqlite:///experiments/mlflow.db

clean:
	rm -rf demo-out .pytest_cache build *.egg-info
