# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# torch spends most of its CPU time in page faults under glibc malloc:
# jemalloc (Debian libjemalloc2) when present, else glibc's huge pages.
JEMALLOC := $(firstword $(wildcard /usr/lib/*/libjemalloc.so.2 /usr/lib/libjemalloc.so.2))
ifneq ($(JEMALLOC),)
RUNENV := LD_PRELOAD=$(JEMALLOC) MALLOC_CONF=retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1
else
RUNENV := GLIBC_TUNABLES=glibc.malloc.hugetlb=1
endif

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(RUNENV) $(VENV)/bin/vrdream demo

test: $(STAMP)
	$(RUNENV) $(PY) -m pytest -q

bench: $(STAMP)
	$(RUNENV) $(PY) -m bench

clean:
	rm -rf $(VENV) vrdream-demo .pytest_cache
