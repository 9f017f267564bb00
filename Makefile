# The two commands of the README: `make demo` (set up, then run the whole workflow on the embedded
# gettext corpus) and `make test`. Set-up is idempotent: it runs once, then only when the
# requirements change.
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/python -m pip
STAMP := $(VENV)/.installed
# Python-3.11 build of fairseq main (DESIGN.md §7); installed without its torchaudio requirement.
FAIRSEQ_PKG ?= ve-fairseq==0.12.3
TORCH_PKG ?= torch==2.13.0
# Tests run one file per worker, a worker per core (module fixtures are built once); PYTEST_ARGS= for serial.
PYTEST_ARGS ?= -n auto --dist loadfile

.PHONY: install test test-fast demo bench clean

install: $(STAMP)

$(STAMP): setup.py requirements.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel
	$(PIP) install $(TORCH_PKG)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps $(FAIRSEQ_PKG)
	$(PIP) install --no-build-isolation eflomal==2.0.0
	$(PIP) install --no-deps --no-build-isolation -e .
	$(VENV)/bin/python -c "import fairseq_weam, fairseq, torch, numpy; assert numpy.__version__ < '2'"
	touch $(STAMP)

test: install
	$(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

test-fast: install
	$(VENV)/bin/python -m pytest tests -m "not slow" $(PYTEST_ARGS)

demo: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

bench: install  # bench.py runs every process with one thread itself
	$(VENV)/bin/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
