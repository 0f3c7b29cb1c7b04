# Quick start: `make demo` (set up, run the embedded default job) and `make test` (set up, run the tests).
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
# On CPU machines install the pinned CPU build of torch first: a bare `torch` requirement pulls a
# multi-GB CUDA build. GPU users: `make TORCH_SPEC=torch` (or any CUDA build) instead.
TORCH_SPEC ?= torch==2.13.0
PIP_ARGS   ?=

.PHONY: setup setup-test demo lint test test-slow jemalloc chromium clean

$(VENV)/.setup: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_ARGS) --quiet --progress-bar off "$(TORCH_SPEC)"
	$(PY) -m pip install $(PIP_ARGS) --quiet --progress-bar off -e ".[hf]"
	touch $@

$(VENV)/.setup-test: $(VENV)/.setup
	$(PY) -m pip install $(PIP_ARGS) --quiet --progress-bar off -e ".[test]"
	touch $@

setup: $(VENV)/.setup jemalloc
setup-test: $(VENV)/.setup-test jemalloc chromium

# jemalloc makes CPU training 15-90% faster (README, Performance); optional, installed when we can.
jemalloc:
	@ldconfig -p 2>/dev/null | grep -q libjemalloc.so.2 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get install -y -qq libjemalloc2 >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libjemalloc2 >/dev/null 2>&1)) ; } || \
	  echo "note: libjemalloc2 not installed; training runs with the system allocator"

# Debian's chromium: the report's browser test drives it through playwright (no browser download).
chromium:
	@[ -x /usr/bin/chromium ] || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) ; } || \
	  echo "note: chromium not installed; the report's browser test is skipped"

demo: setup
	$(VENV)/bin/textbooks run

# ruff (configured in pyproject.toml) checks the tree before the tests run.
lint: setup-test
	$(VENV)/bin/ruff check src tests bench docs

# pytest exits 5 when it collects nothing; that is not a failure of the code under test.
test: setup-test lint
	$(PY) -m pytest -q -m "not slow" || [ $$? -eq 5 ]

test-slow: setup-test
	$(PY) -m pytest -q -m slow || [ $$? -eq 5 ]

clean:
	rm -rf $(VENV) runs .pytest_cache
