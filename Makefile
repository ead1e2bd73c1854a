# Two commands for a newcomer on a fresh machine:
#   make demo   creates .venv, installs jaxnn[dev], trains an MLP on the bundled digits
#   make test   same install, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.jaxnn-installed

.PHONY: install demo test bench experiments notebooks clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/jaxnn train --data digits --hidden 128,64 --activation relu --optimizer adam \
	    --lr 1e-3 --epochs 30 --batch-size 64 --seed 0 --out runs/demo

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/run_all.py

experiments: install
	$(PY) experiments/run_all.py

notebooks: install
	$(PY) -m pip install --quiet -e ".[notebooks]"
	$(PY) experiments/make_notebooks.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
