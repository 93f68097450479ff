import time

import pytest
import torch.multiprocessing as mp

from paperlib.core import launch
from tests import ranks


def test_ranks_all_reduce_over_gloo():
    results = launch(ranks.sum_of_ranks, 2)
    assert results == [1.0, 1.0]


def test_a_failing_rank_ends_the_run_with_its_error_not_a_hang():
    start = time.monotonic()
    # rank 0 then fails too (its peer closed the connection): the report must still be rank 1's error
    with pytest.raises(mp.ProcessRaisedException, match="rank 1 gave up"):
        launch(ranks.rank_one_fails, 2, timeout_s=60)
    assert time.monotonic() - start < 50


def test_bad_world_size():
    with pytest.raises(ValueError, match="world_size"):
        launch(ranks.sum_of_ranks, 0)


def test_more_ranks_than_gpus_share_them_over_gloo(monkeypatch):
    import torch

    from paperlib.core.launch import backend_for

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert backend_for("cuda", 1) == "nccl"
    assert backend_for("cuda", 2) == "gloo"  # NCCL refuses two ranks on one GPU
    assert backend_for("cpu", 1) == "gloo"
