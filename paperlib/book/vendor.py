"""Front-end assets the book serves itself (no CDN at view time): MathJax 3, require.js, the widgets
embedder. Fetched from the npm registry at build time with ``npm pack`` (tarballs only, no dependency
trees) into ``_build/vendor-static/vendor/``, which Sphinx copies to ``_static/vendor/``."""
from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from ..core.paths import repo_root

#: package spec -> {file, folder or glob inside the package: destination under _static/vendor/}
ASSETS = {
    "mathjax@3.2.2": {"es5": "mathjax"},
    "requirejs@2.3.7": {"require.js": "require.js"},
    "@jupyter-widgets/html-manager@1.0.6": {
        "dist/embed-amd.js": "embed-amd.js",
        **{f"dist/*.{ext}": "widget-assets" for ext in ("woff2", "woff", "ttf", "eot", "svg")},  # icon fonts
    },
}

#: Loaded before require.js and embed-amd.js. The embedder resolves its icon fonts against the URL that
#: require.js gives its module, which by default is a path under the page that does not exist; map that
#: module to the vendored folder (a global ``require`` object is require.js's documented config hook).
ASSETS_PATH_JS = """\
var widgetAssets = new URL("widget-assets/", document.currentScript.src).href;
window.__jupyter_widgets_assets_path__ = widgetAssets;
var require = {paths: {"@jupyter-widgets/html-manager/dist": widgetAssets.slice(0, -1)}};
"""


def static_dir() -> Path:
    return repo_root() / "_build" / "vendor-static"


def ensure_assets() -> Path:
    """Make sure every asset is in place; download only what is missing. Returns the static folder."""
    target = static_dir() / "vendor"
    target.mkdir(parents=True, exist_ok=True)
    (target / "widgets-assets.js").write_text(ASSETS_PATH_JS)  # ours: always current
    missing = {spec: files for spec, files in ASSETS.items()
               if not all((target / dest).exists() for dest in files.values())}
    if not missing:
        return static_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("building the book needs npm (Node.js) to fetch MathJax and require.js from the "
                           "npm registry once; install Node.js, or copy _build/vendor-static from a machine that has it")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", "--silent", *missing], cwd=tmp, check=True, capture_output=True)
        for spec, files in missing.items():
            name = spec.rsplit("@", 1)[0].lstrip("@").replace("/", "-")
            tarball = next(Path(tmp).glob(f"{name}-*.tgz"))
            with tarfile.open(tarball) as tar:
                tar.extractall(Path(tmp) / name, filter="data")
            package = Path(tmp) / name / "package"
            for inner, dest in files.items():
                if "*" in inner:
                    (target / dest).mkdir(parents=True, exist_ok=True)
                    for source in package.glob(inner):
                        shutil.copy2(source, target / dest / source.name)
                    continue
                source = package / inner
                (target / dest).parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, target / dest, dirs_exist_ok=True)
                else:
                    shutil.copy2(source, target / dest)
    return static_dir()
