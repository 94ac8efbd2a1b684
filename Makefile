# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
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
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .demo-state .pytest_cache .mypy_cache .ruff_cache
