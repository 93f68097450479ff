"""The teaching page's exercises name knobs that exist, and the page is generated from measurements."""
import yaml

from paperlib.core.paths import repo_root
from paperlib.papers import schema
from paperlib.teaching import page


def test_every_exercise_names_a_real_knob():
    exercises = yaml.safe_load((repo_root() / "book" / "exercises.yml").read_text())
    for name, items in exercises.items():
        spec = schema(name)
        for item in items:
            assert item["knob"] in spec.by_name, f"{name}: no parameter {item['knob']!r}"


def test_page_lists_every_chapter_with_a_run_time_line():
    text = page()
    assert "paperlib warm" in text
    for line in text.splitlines():
        if line.startswith("**Run time:**"):
            assert "min at `cpu` scale" in line or "not measured yet" in line
