# Set-up and entry points; every target creates .venv first if it is missing or stale.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FASHION_MNIST := /usr/share/datasets/fashion-mnist
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test data clean gpu-check gpu-bundle

# a second `make demo` continues (or just shows) the first run instead of refusing to overwrite it
demo: $(VENV)/.installed data
	$(PY) experiments/run_akd.py $$([ -f runs/demo/config.yaml ] && echo --resume)

test: $(VENV)/.installed data
	$(PY) -m pytest

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,export,ray]'
	touch $@

# Fashion-MNIST from Debian's package where apt-get exists; elsewhere torchvision downloads it.
# In CI (CI=true) a dataset that cannot be installed fails the run instead of skipping tests.
data:
	@if [ ! -d $(FASHION_MNIST) ] && command -v apt-get >/dev/null; then \
	  $(SUDO) apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null 2>&1 && \
	    $(SUDO) apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } || \
	  { [ "$$CI" = true ] && echo "error: could not install dataset-fashion-mnist" && exit 1; \
	    echo "warning: could not install dataset-fashion-mnist; set data.root or go online"; }; \
	fi

# The prepared GPU check (docs/gpu.md): on a machine with one CUDA GPU, at most 8 minutes.
gpu-check: $(VENV)/.installed data
	$(PY) experiments/gpu_check.py

# What a bare, offline GPU machine lacks, to copy along with the checkout (docs/gpu.md): akd's
# pure-Python dependencies that such images miss, as wheels, and the Fashion-MNIST files (31 MB).
GPU_WHEELS := dacite fvcore iopath yacs termcolor portalocker tabulate
gpu-bundle: $(VENV)/.installed data
	rm -rf gpu_bundle && mkdir -p gpu_bundle/wheels gpu_bundle/fashion-mnist
	$(PY) -m pip wheel --quiet --no-deps -c constraints.txt -w gpu_bundle/wheels $(GPU_WHEELS)
	cp $(FASHION_MNIST)/*-ubyte.gz gpu_bundle/fashion-mnist/
	du -sh gpu_bundle

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache build  # build/: a stale wheel build breaks the wheel test
