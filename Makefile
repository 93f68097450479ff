# Thin wrappers over the paperlib command, in a project virtual environment (.venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCALE ?= cpu

.PHONY: book test run env clean gpu-wheels

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

clean:
	rm -rf _build

# Pure-Python wheels (plus safetensors/regex builds) the lent GPU machine lacks, for `paperlib gpu-check`
# there: carry .whl/ and install with `pip install --no-index --no-deps --target /tmp/site .whl/*.whl`.
GPU_WHEELS = diffusers==0.42.1 open_clip_torch==3.3.0 timm==1.0.31 huggingface_hub==2.4.0 safetensors==0.8.0 \
	ftfy==6.3.1 regex==2026.11.19 papermill==2.7.0 jupytext==1.19.6 nbclient==0.11.0 nbformat==5.11.1 \
	platformdirs==4.14.8 pyyaml==6.0.4 tqdm==4.70.1
gpu-wheels:
	$(BIN)/python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d .whl $(GPU_WHEELS)
