# Two sacred commands: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser postgres bench-tools demo test bench clean

install: $(STAMP)

# The browser tests drive Debian's Chromium (never a browser download of Playwright's own);
# the CJK fonts make Korean pages readable in their screenshots. Installed as root (CI is);
# elsewhere the browser tests skip with the reason.
browser:
	@if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else echo "note: not root, so Debian's chromium and fonts-noto-cjk are not installed; browser tests will skip"; fi

# The store's tests run on SQLite and on a throwaway PostgreSQL server started from Debian's
# binaries (tests/support/postgres.py); without them those tests skip with the reason.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	else echo "note: not root, so Debian's postgresql is not installed; the PostgreSQL tests will skip"; fi

# wrk (a C load generator) is the crowd of the arena's PostgreSQL curve (benchmarks/bench_arena_load.py).
bench-tools:
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	else echo "note: not root, so Debian's wrk is not installed; the arena benchmark's crowd stays in Python"; fi

# torch is pinned first so pip keeps the CPU build instead of pulling a CUDA one.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[eval,test]'
	touch $(STAMP)

demo: install
	$(BIN)/gauntlet demo $(if $(WORKDIR),--workdir $(WORKDIR),)

test: install browser postgres
	$(BIN)/python -m pytest -q

bench: install postgres bench-tools
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
