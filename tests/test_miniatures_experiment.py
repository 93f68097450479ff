"""The miniatures chapter's measurements: chance as a binomial bar, and how much of the digit a domain keeps."""
import pytest
import torch
from scipy import stats

from paperlib import data
from paperlib.data.domains import Domain
from paperlib.miniatures import binomial_bar, probe_accuracies


@pytest.mark.parametrize("n, rate", [(50, 0.1), (397, 0.1), (400, 0.1), (100, 0.5)])
def test_the_bar_is_the_binomial_95_percent_quantile(n, rate):
    k = round(binomial_bar(n, rate) * n)
    assert stats.binom.sf(k, n, rate) <= 0.05 < stats.binom.sf(k - 1, n, rate)  # P(correct > k) at that rate
    assert rate < binomial_bar(n, rate) < rate + 3 * (rate * (1 - rate) / n) ** 0.5


def test_every_target_keeps_its_digit():
    """Hard, not information-free: a linear probe fitted on each target reads its digit far above chance."""
    probes = probe_accuracies(data.dg_benchmark(16))
    assert set(probes) == set(data.DOMAINS)
    assert min(probes.values()) > 0.4, probes


def test_a_domain_without_the_digit_leaves_the_probe_at_chance():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(400, 3, 16, 16, generator=gen), torch.arange(10).repeat(40)
    noise = Domain("noise", x, y, data.RECIPES["source"])
    assert probe_accuracies({"noise": noise})["noise"] < binomial_bar(400)
