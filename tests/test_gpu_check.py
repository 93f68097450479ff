import json

import pytest
import torch

from paperlib import cli


def test_gpu_check_dry_run_starts_and_reports(tmp_path, capsys):
    assert cli.main(["gpu-check", "--dry-run", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["dry_run"] and report["device"] == "cpu"
    for name, result in report["architectures"].items():
        assert "error" not in result, (name, result)
    assert all(b["returncode"] == 0 for b in report["benchmarks"].values())
    assert "GPU check" in (tmp_path / "report.md").read_text()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_gpu_check_without_gpu_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["gpu-check", "--out", str(tmp_path)]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
