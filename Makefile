# Thin wrappers over the paperlib command, in a project virtual environment (.venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCALE ?= cpu

.PHONY: book test run bench env clean gpu-wheels

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --constraint constraints.txt --editable ".[book,test]"
	touch $@

env: $(BIN)/.installed

book: $(BIN)/.installed          ## execute every chapter at $(SCALE) scale and build _build/html
	$(BIN)/paperlib book --scale $(SCALE)

test: $(BIN)/.installed          ## unit tests, every chapter at smoke scale, the book from those runs
	$(BIN)/python -m pytest -q

run: $(BIN)/.installed           ## make run NAME=linfusion SCALE=full ARGS="-p steps 100"
	$(BIN)/paperlib run $(NAME) --scale $(SCALE) $(ARGS)

bench: $(BIN)/.installed         ## every benchmarks/*.py at cpu size, recorded in results/bench for the book
	$(BIN)/paperlib bench --size cpu

clean:
	rm -rf _build

# The wheels the lent GPU machine lacks for `paperlib gpu-check` (paperlib's dependency closure minus that
# machine's image; book/running.md says how to carry and install them there).
gpu-wheels: $(BIN)/.installed
	$(BIN)/paperlib gpu-wheels --dest .whl
