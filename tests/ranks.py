"""Rank functions for the launcher tests (they must be importable by spawned processes)."""
import torch
import torch.distributed as dist


def sum_of_ranks(rank, world_size, device):
    t = torch.tensor([float(rank)])
    dist.all_reduce(t)
    return t.item()


def rank_one_fails(rank, world_size, device):
    if rank == 1:
        raise RuntimeError("rank 1 gave up")
    t = torch.zeros(1)
    dist.all_reduce(t)  # rank 0 would wait forever without the launcher's handling
    return t.item()
