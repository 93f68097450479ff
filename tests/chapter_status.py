"""Chapters whose migration to the chapter contract (issue #21) has not landed yet: their contract tests are
expected to fail, and say so, instead of being left out silently."""
import pytest

from paperlib.papers import toc_chapters

#: SG-Former's redesign (issue #19) and its migration are in progress; the committed chapter is the old form.
NOT_YET_MIGRATED = {"sgformer": "issue #19/#21: SG-Former's redesign and migration have not landed"}


def contract_chapters():
    return [pytest.param(n, marks=pytest.mark.xfail(reason=NOT_YET_MIGRATED[n])) if n in NOT_YET_MIGRATED else n
            for n in toc_chapters()]
