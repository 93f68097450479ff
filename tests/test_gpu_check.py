import json
import sys
import time
from pathlib import Path

import pytest
import torch

from paperlib import cli
from paperlib.gpu.check import Deadline
from paperlib.runner import run_script


def test_gpu_check_dry_run_starts_and_reports(tmp_path, capsys):
    # the chapter runs through `paperlib run` in a child process, as on the GPU machine
    assert cli.main(["gpu-check", "--dry-run", "--only", "teddy", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["dry_run"] and report["device"] == "cpu"
    for name, result in report["architectures"].items():
        assert "error" not in result, (name, result)
    assert all(b["status"] == "ok" for b in report["benchmarks"].values()), report["benchmarks"]
    teddy = report["notebooks"]["teddy"]
    assert teddy["status"] == "ok", teddy["output"]
    assert teddy["verdicts"] and (tmp_path / "notebooks" / "teddy" / "run.ipynb").is_file()
    text = (tmp_path / "report.md").read_text()
    assert "GPU check" in text and "| teddy | ok |" in text


def test_a_step_past_the_deadline_is_stopped_with_its_children_and_reported(tmp_path):
    child = tmp_path / "child.pid"
    script = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; "
              f"time.sleep(60)']); open({str(child)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    start = time.monotonic()
    result = run_script([sys.executable, "-c", script], timeout_s=3)
    assert result["status"].startswith("timed out after 3 s") and time.monotonic() - start < 20
    time.sleep(0.5)  # the grandchild went with it (gone, or a zombie where nobody reaps orphans)
    stat = Path(f"/proc/{int(child.read_text())}/stat")
    assert not stat.exists() or stat.read_text().split(") ")[1].startswith("Z")
    assert run_script([sys.executable, "-c", "pass"], Deadline(0).left())["status"].startswith("skipped")


def test_a_phase_gets_its_share_of_the_budget_and_never_more_than_is_left():
    whole = Deadline(100)
    assert 19 < whole.share(0.2).left() <= 20
    whole.end -= 95  # 5 s left
    assert whole.share(0.2).left() <= 5


def test_gpu_check_rejects_unknown_chapters(tmp_path, capsys):
    assert cli.main(["gpu-check", "--dry-run", "--only", "nope", "--out", str(tmp_path)]) == 2
    assert "--only: expected chapters of _toc.yml" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_gpu_check_without_gpu_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["gpu-check", "--out", str(tmp_path)]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_the_carried_wheels_are_what_the_lent_image_lacks():
    from paperlib.gpu.wheels import LENT_IMAGE, carried

    wheels = carried()
    # the issue names these as missing there; the kernel stack papermill needs comes with them
    assert {"diffusers", "open-clip-torch", "papermill", "jupytext", "ipykernel", "jupyter-client",
            "pyzmq"} <= set(wheels)
    assert not {"torch", "torchvision", "numpy", "timm", "huggingface-hub"} & set(wheels)  # the machine's own
    assert not any(name.startswith(("nvidia-", "cuda-")) for name in wheels)
    assert all(name not in LENT_IMAGE for name in wheels)  # no image package is refused at its version today


@pytest.mark.slow
def test_gpu_check_runs_on_an_image_like_the_lent_machine_from_carried_wheels(tmp_path):
    """Minutes and PyPI: the check started from a Python that has only the image's packages and the wheels."""
    import subprocess

    from paperlib.core.paths import repo_root
    from paperlib.gpu.wheels import download
    from tests import lent_image

    wheels = download(tmp_path / "whl", python=f"{sys.version_info.major}.{sys.version_info.minor}")
    python, site = lent_image.build(tmp_path / "env", wheels[0].parent)
    done = subprocess.run([str(python), "-m", "paperlib.cli", "gpu-check", "--dry-run", "--only", "teddy",
                           "--out", str(tmp_path / "report")], cwd=repo_root(), env={"PYTHONPATH": str(site),
                           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["notebooks"]["teddy"]["status"] == "ok", report["notebooks"]["teddy"]["output"]
    assert all("error" not in r for r in report["architectures"].values())


def test_the_report_shows_each_benchmark_s_ratios():
    from paperlib.gpu.check import markdown

    ratio = {"statement": "linear vs fused SDPA at 64k tokens", "value": 12.3, "unit": "x", "met": True}
    report = {"device": "GPU", "torch": "2", "python": "3", "cpu_count": 16, "started": "2026-11-27T10:00",
              "seconds": 100.0, "budget_s": 330.0, "dry_run": False, "architectures": {}, "notebooks": {},
              "benchmarks": {"linfusion": {"status": "ok", "seconds": 30.0, "ratios": [ratio]},
                             "teddy": {"status": "exit 1: boom", "seconds": 2.0}}}
    text = markdown(report)
    assert "- linfusion: ok, 30 s; linear vs fused SDPA at 64k tokens: 12.3x (met)" in text
    assert "- teddy: exit 1: boom, 2 s" in text
