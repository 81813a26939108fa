# The README's two commands. Each sets itself up on a fresh machine (Python 3.10+ and pip only).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch/torchvision pinned to the builds that ship on the project's machines; any release in
# pyproject's range works for users elsewhere.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test setup clean

$(BIN)/ganforge: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_PINS)
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/ganforge

setup: $(BIN)/ganforge

demo: setup
	$(BIN)/ganforge train

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
