# Two entry points on a fresh Debian machine (as root):
#   make lab    install everything, then bring up the demo lab (see README)
#   make test   install everything, then run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APT_LISTS := $(wildcard deps/apt*.txt)
APT_STAMP := $(VENV)/.apt-installed
PIP_STAMP := $(VENV)/.pip-installed

.PHONY: deps test test-fast lint lab lab-down clean deb

deps: $(APT_STAMP) $(PIP_STAMP)
	@$(PY) -m compileall -q -o 0 -o 2 haipvs >/dev/null  # ours too: only what changed

$(APT_STAMP): $(APT_LISTS) | $(VENV)/bin/python
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    $$(grep -hv '^\s*#' $(APT_LISTS) | tr '\n' ' '); \
	else echo "not root or no apt-get: skipping system packages ($(APT_LISTS))"; fi
	touch $@

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The daemon runs under -OO (haipvs/optimized.py): compileall writes its byte code too, or
# each start compiles the libraries again (pip writes only the plain .pyc; in the qemu
# guest, which reads this checkout read-only, that is seconds per start).
$(PIP_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m compileall -q -o 0 -o 2 $(VENV)/lib >/dev/null
	touch $@

# --durations: the slowest tests are listed at the end, as CI has a time budget (README)
test: deps
	$(PY) -m ruff check .
	$(PY) -m pytest --durations=25

test-fast: deps
	$(PY) -m pytest -m "not netns and not qemu and not slow"

lint: deps
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) build *.egg-info integration/qemu/build

# The seeds' lab (client, two directors, two real servers) in network namespaces;
# MODE=dr, or MODE=bgp: the scale-out lab (BIRD router, three active directors, ECMP).
# VM=1: the NAT/DR lab inside the qemu guest (real IPVS on any host), as one demo run.
lab: deps
ifeq ($(VM),1)
	@echo "VM=1: the lab runs in a qemu guest with real IPVS (integration/qemu/run-in-guest);"
	@echo "the guest lives for one command, so this is the whole story: up, answers, failover, answers, down"
	integration/qemu/run-in-guest --timeout 1500 -- $(PY) -m haipvs lab demo --mode $(or $(MODE),nat)
else
	$(PY) -m haipvs lab up --mode $(or $(MODE),nat)
	$(PY) -m haipvs lab status
	@echo
	@echo "next:  $(PY) -m haipvs lab status      # who is MASTER, IPVS table, client answers"
	@echo "       $(PY) -m haipvs lab failover    # kill the MASTER, show the takeover time"
	@echo "                                        # (bgp: hang one director, SIGTERM another)"
	@echo "       $(PY) -m haipvs lab drain       # bgp: drain a director, show the reroute"
	@echo "       make lab-down                    # remove every namespace and process"
	@echo "       make lab VM=1                    # the same lab on real IPVS in a qemu guest"
endif

# The Debian package: a venv under /usr/lib/haipvs built by dpkg-buildpackage from the working tree
# (git-tracked files), packaging/debian as debian/; lintian must pass (docs/packaging.md).
DEB_DIR := build/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/haipvs
	git ls-files -z | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C $(DEB_DIR)/haipvs
	cp -r packaging/debian $(DEB_DIR)/haipvs/debian
	cd $(DEB_DIR)/haipvs && SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
	  dpkg-buildpackage -b -us -uc
	lintian --fail-on error,warning \
	  $(DEB_DIR)/haipvs_*.deb
	@ls -l $(DEB_DIR)/haipvs_*.deb

lab-down:
	$(PY) -m haipvs lab down
