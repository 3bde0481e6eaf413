# make test: lint, types and every test, from nothing on a fresh Debian machine (as root).
# make demo: the lab (and, once it exists, the agent) showing what borderpath does.

VENV := .venv
PY := $(VENV)/bin/python
PACKAGES := agent alerts core lab probes selector storage
DEBIAN_PACKAGES := iproute2 nftables ethtool procps fping iputils-ping influxdb \
	prometheus prometheus-alertmanager
# A command each Debian package provides: install only what is missing.
DEBIAN_COMMANDS := ip nft ethtool sysctl fping ping influxd promtool prometheus-alertmanager

.PHONY: test demo lint typecheck pytest installcheck deps system-deps clean

test: deps lint typecheck pytest installcheck

demo: deps
	$(VENV)/bin/borderpath demo

deps: system-deps $(VENV)/.installed

system-deps:
	@missing=""; for c in $(DEBIAN_COMMANDS); do command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $(DEBIAN_PACKAGES)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBIAN_PACKAGES) >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev,demo]'
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy cannot follow setuptools' package-dir mapping of an editable install, so it
# reads the same folders through a tree of links named as they are imported.
typecheck: $(VENV)/.installed
	@mkdir -p .mypy-tree/borderpath
	@for p in $(PACKAGES); do ln -sfn ../../$$p .mypy-tree/borderpath/$$p; done
	$(VENV)/bin/mypy -p borderpath.agent -p borderpath.alerts -p borderpath.core -p borderpath.lab \
		-p borderpath.probes -p borderpath.selector -p borderpath.storage
	$(VENV)/bin/mypy tests bench

pytest: $(VENV)/.installed
	$(VENV)/bin/pytest

# As a router installs it: the wheel (built from the sdist) in a fresh venv, not editable;
# then the unit tests against that install, from outside the checkout's import path.
WHEEL_VENV := build/wheel-venv
installcheck: $(VENV)/.installed
	rm -rf build/dist $(WHEEL_VENV)
	$(PY) -m build --outdir build/dist . >/dev/null
	python3 -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/pip install -q "$$(ls build/dist/*.whl)[dev]"
	$(WHEEL_VENV)/bin/borderpath --version
	for config in deploy/examples/branch.toml deploy/openwrt/agent.toml; do \
		$(WHEEL_VENV)/bin/borderpath agent check --file-only --config $$config || exit 1; done
	$(WHEEL_VENV)/bin/python -c 'import sys, borderpath.agent as a; sys.exit(not a.__file__.startswith(sys.prefix))'
	$(WHEEL_VENV)/bin/pytest -q -m "not lab and not influx" -p no:cacheprovider

clean:
	rm -rf $(VENV) build .mypy-tree .mypy_cache .ruff_cache .pytest_cache
