# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both create .venv and install the pinned dependencies on first use; later
# runs reuse it (reinstalling only when pyproject.toml changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lit unit fuzz clean

$(STAMP): pyproject.toml
	@echo "==> setting up $(VENV) with $(PYTHON) (pinned dependencies, first run takes ~2 minutes)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@( $(BIN)/python -m pip install --disable-pip-version-check --upgrade pip && \
	   $(BIN)/python -m pip install --disable-pip-version-check -e '.[test]' ) > $(VENV)/install.log 2>&1 \
	 || { tail -n 40 $(VENV)/install.log; echo "setup failed; full log: $(VENV)/install.log"; exit 1; }
	@touch $@

demo: $(STAMP)
	$(BIN)/vaqf demo

unit: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

lit: $(STAMP)
	$(BIN)/lit -q test/filecheck

test: $(STAMP)
	$(BIN)/lit -sv test/filecheck
	$(BIN)/pytest -q -m "not slow"

test-all: $(STAMP)
	$(BIN)/lit -sv test/filecheck
	$(BIN)/pytest -q

# Mutation fuzzing of vaqf-opt (vaqf_compiler/fuzz.py): `make fuzz COUNT=20000 SEED=1`.
COUNT ?= 20000
SEED  ?= 1
fuzz: $(STAMP)
	$(BIN)/python -m vaqf_compiler.fuzz --count $(COUNT) --seed $(SEED)

clean:
	rm -rf out build *.egg-info .pytest_cache
