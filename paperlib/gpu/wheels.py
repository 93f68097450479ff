"""``paperlib gpu-wheels``: the wheels a lent GPU machine lacks for ``paperlib gpu-check``.

That machine has no network, Python 3.12 and an image of common packages with its own torch; it lacks
diffusers, open_clip, papermill, jupytext and the Jupyter kernel stack. Rather than a hand-kept list, the
wheels are paperlib's dependency closure, read from the metadata installed here (so at the versions
``constraints.txt`` pins), minus what the image holds; an image package is carried all the same when a
carried package refuses the version the image has. torch and its CUDA libraries are never carried: the
check runs on the machine's own.
"""
from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

LENT_PYTHON = "3.12"
# The image's packages, as the device tool's KINDS.md listed them (read 2026-11-17), and the versions of
# those that its pip list gave (2026-11).
LENT_IMAGE = frozenset(canonicalize_name(n) for n in """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2
joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown
markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch
mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti
nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver
nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13
nvidia-nvtx onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache
protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest
pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml
regex requests rich sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece
sentence-transformers setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate
tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())
LENT_VERSIONS = {"huggingface-hub": "1.33.0", "numpy": "2.5.2", "safetensors": "0.8.0", "tokenizers": "0.23.2",
                 "torch": "2.11.0", "torchvision": "0.26.0", "transformers": "5.17.0", "triton": "3.6.0"}
NEVER_CARRIED = ("torch", "torchvision", "torchaudio", "triton", "nvidia-", "cuda-")
PLATFORMS = ["manylinux2014_x86_64", "manylinux1_x86_64"] + [f"manylinux_2_{n}_x86_64" for n in range(17, 40)]


def _marker_env(python: str) -> dict[str, str]:
    return {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
            "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
            "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}


def _requirements(name: str, python: str, extras: tuple[str, ...] = ()) -> list[Requirement]:
    """The requirements of installed ``name`` that apply on Linux x86-64 with ``python`` (and ``extras``)."""
    out = []
    for text in metadata.requires(name) or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate(_marker_env(python) | {"extra": e}) for e in ("",) + extras):
            out.append(req)
    return out


def closure(python: str = LENT_PYTHON) -> tuple[dict[str, str], list[Requirement]]:
    """Every distribution paperlib (with its ``full`` extra) needs, at the version installed here, and all
    the requirements met on the way (to check the image's versions against)."""
    versions: dict[str, str] = {}
    met: list[Requirement] = []
    todo = _requirements("paperlib", python, extras=("full",))
    while todo:
        req = todo.pop()
        met.append(req)
        name = canonicalize_name(req.name)
        if name in versions:
            continue
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name in LENT_IMAGE:  # needed only on that Python (aiohttp for papermill on 3.12): it is there
                continue
            raise
        todo += _requirements(name, python, extras=tuple(req.extras))
    return versions, met


def carried(python: str = LENT_PYTHON) -> dict[str, str]:
    """Name -> version of each wheel to carry: missing from the image, or refused at the image's version."""
    versions, met = closure(python)
    carry = {n: v for n, v in versions.items() if n not in LENT_IMAGE}
    for req in met:
        name = canonicalize_name(req.name)
        there = LENT_VERSIONS.get(name)
        if there and not req.specifier.contains(Version(there), prereleases=True) and not name.startswith(NEVER_CARRIED):
            carry[name] = versions[name]
    return dict(sorted(carry.items()))


def download(dest: Path, python: str = LENT_PYTHON) -> list[Path]:
    """Download the carried wheels (binary only, for CPython ``python`` on manylinux x86-64) into ``dest``."""
    wanted = [f"{name}=={version}" for name, version in carried(python).items()]
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", python, "--implementation", "cp", *platforms, "-d", str(dest), *wanted],
                   check=True)
    return sorted(Path(dest).glob("*.whl"))
