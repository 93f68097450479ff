"""A stand-in for the lent GPU machine's Python, built from this machine's installed packages.

A fresh virtual environment sees only the distributions that machine's image holds (linked from this
project's environment) and the carried wheels, installed with ``--no-deps --target`` as the device
README says. What it cannot imitate: that machine's Python 3.12 and torch 2.11 (the stand-in runs
Python 3.11 with this project's torch, and the wheels are the cp311 builds of the same versions).
"""
from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

from paperlib.gpu.wheels import LENT_IMAGE


def _link_image(site: Path, image: Path) -> None:
    """Link the top-level files and folders of every installed distribution the image also holds."""
    image.mkdir(parents=True)
    for dist in metadata.distributions():
        if canonicalize_name(dist.metadata["Name"]) not in LENT_IMAGE:
            continue
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source, target = site / top, image / top
            if source.exists() and not target.exists() and not top.endswith(".pth"):
                target.symlink_to(source)


def build(root: Path, wheels: Path) -> tuple[Path, Path]:
    """(python, carried site folder): a Python that sees the image and nothing else; install ``wheels`` in
    the carried folder and put it on PYTHONPATH, as on the lent machine."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    python = root / "venv" / "bin" / "python"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    _link_image(site, root / "image")
    venv_site = next((root / "venv" / "lib").glob("python3*/site-packages"))
    (venv_site / "lent_image.pth").write_text(str(root / "image") + "\n")
    carried = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile",
                    "--target", str(carried), *map(str, sorted(wheels.glob("*.whl")))], check=True)
    return python, carried
