# Two commands matter: `make run` and `make test`. Everything else is what they build on.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
export BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test install install-test system-packages lint bench clean

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tcma needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.installed: $(VENV)/.python-ok pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: migrate, load demo data and serve on http://127.0.0.1:$(PORT) with an embedded worker
run: install
	$(BIN)/tcma db upgrade
	$(BIN)/tcma demo
	$(BIN)/tcma serve --port $(PORT) --demo-networks

## make test: set up and run the whole suite
test: install-test system-packages
	$(BIN)/ruff check tcma assets campaigns syndication mdf worker tests bench
	$(BIN)/pytest

## Tools the tests use as a person would: chromium (browser tests, driven by Playwright with no
## browser download), qpdf and poppler-utils (checking co-branded PDFs), zbar-tools (reading
## the QR codes stamped on them, as a phone would).
SYSTEM_TOOLS := chromium:chromium qpdf:qpdf pdftoppm:poppler-utils pdftotext:poppler-utils zbarimg:zbar-tools
system-packages:
	@missing=""; for pair in $(SYSTEM_TOOLS); do tool=$${pair%%:*}; pkg=$${pair##*:}; \
		command -v $$tool >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	if [ -z "$$(echo $$missing | tr -d ' ')" ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing $$missing with apt-get (used by the tests)..."; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }; \
	else \
		echo "The tests need: $$missing. Install them with:"; \
		echo "    sudo apt-get install -y $$missing"; \
		exit 1; \
	fi

lint: install-test
	$(BIN)/ruff check tcma assets campaigns syndication mdf worker tests bench

clean:
	rm -rf $(VENV) instance .pytest_cache
