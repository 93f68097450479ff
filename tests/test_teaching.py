"""The teaching page's exercises name knobs that exist, and its run times come from measurements."""
import json

import yaml

from paperlib.book import teaching
from paperlib.core.paths import repo_root
from paperlib.papers import schema, toc_chapters


def test_every_exercise_names_a_real_knob():
    exercises = yaml.safe_load((repo_root() / "book" / "exercises.yml").read_text())
    for name, items in exercises.items():
        spec = schema(name)
        for item in items:
            assert item["knob"] in spec.by_name, f"{name}: no parameter {item['knob']!r}"


def _run_time_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("**Run time:**")]


def test_every_chapter_has_one_run_time_line(monkeypatch, tmp_path):
    monkeypatch.setattr(teaching, "runs_dir", lambda scale: tmp_path / scale)
    text = teaching.page()
    assert "paperlib warm" in text
    lines = _run_time_lines(text)
    assert len(lines) == len(toc_chapters())
    assert all("not measured yet" in line for line in lines)


def test_the_run_time_is_the_measured_one(monkeypatch, tmp_path):
    monkeypatch.setattr(teaching, "runs_dir", lambda scale: tmp_path / scale)
    name = toc_chapters()[0]
    metrics = tmp_path / "cpu" / name / "metrics.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text(json.dumps({"provenance": {
        "wall_time_s": 150.0, "cpu_time_s": 120.0, "device_name": "Test CPU", "cpu_count": 2,
        "started": "2026-11-27T10:00:00+00:00", "load_average": [3.5, 4.0]}}))
    first = _run_time_lines(teaching.page())[0]
    assert "2.5 min at `cpu` scale on Test CPU (2 cores), 2026-11-27" in first
    assert "machine load 4.0 during the run, 2.0 min of CPU time" in first
