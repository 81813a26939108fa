# The README's two commands. Each sets itself up on a fresh machine (Python 3.10+ and pip only).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch/torchvision pinned to the builds that ship on the project's machines; any release in
# pyproject's range works for users elsewhere.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test setup clean chromium

$(BIN)/ganforge: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_PINS)
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/ganforge

setup: $(BIN)/ganforge

demo: setup
	$(BIN)/ganforge train

# Headless Chromium for the HTML report's browser test. Best effort: as root where apt-get exists;
# elsewhere that test skips and says why.
chromium:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || \
	  echo "note: chromium not installed; the report's browser test will be skipped"; }

test: setup chromium
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
