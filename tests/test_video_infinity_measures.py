"""The chapter's measures on videos whose answer is known: still, unrelated, spliced and real moving digits."""
import pytest
import torch

from paperlib.data import digits, moving_digits
from paperlib.video_infinity import (appearance_drift, coherence_profile, digit_readout, seam_ratio,
                                     temporal_coherence, unrelated_distance)

GEN = torch.Generator().manual_seed(0)


@pytest.fixture(scope="module")
def real():
    video, labels = moving_digits(6, 24, 16, 8, "test", 1)
    return list(video), labels


@pytest.fixture(scope="module")
def bank():
    return digits("train", 8, channels=1)


def test_coherence_separates_persistent_from_unrelated_frames():
    still = [torch.rand(1, 3, 4, 4, generator=GEN).repeat(16, 1, 1, 1) + 0.01 * torch.rand(16, 3, 4, 4, generator=GEN)
             for _ in range(4)]
    assert temporal_coherence(still) < 0.1  # content persists from frame to frame
    noise = [torch.rand(16, 3, 4, 4, generator=GEN) for _ in range(4)]
    assert temporal_coherence(noise) == pytest.approx(1.0, abs=0.1)  # neighbours as unrelated as videos
    with pytest.raises(ValueError, match="two videos"):
        unrelated_distance(noise[:1])


def test_real_moving_digits_sit_between(real):
    videos, _ = real
    assert 0.4 < temporal_coherence(videos) < 0.8
    profile = coherence_profile(videos, unrelated_distance(videos))
    assert profile.shape == (23,) and torch.isclose(profile.mean(), torch.tensor(temporal_coherence(videos)))


def test_seam_ratio():
    smooth = torch.arange(16, dtype=torch.float64)[:, None].repeat(1, 4)
    assert seam_ratio(smooth, 4) == pytest.approx(1.0)
    jumps = smooth.clone()
    for c in range(4):
        jumps[c * 4:(c + 1) * 4] += 10 * c
    assert seam_ratio(jumps, 4) == pytest.approx(11.0)
    with pytest.raises(ValueError, match="no seams"):
        seam_ratio(smooth[:4], 4)


def test_drift_is_zero_for_a_moving_digit_and_not_for_another_digit(real):
    videos, labels = real
    for v in videos:
        assert appearance_drift(v).max() == 0  # the same digit, translated
    other = next(i for i in range(1, len(videos)) if labels[i] != labels[0])
    spliced = torch.cat([videos[0][:12], videos[other][12:]])
    drift = appearance_drift(spliced)
    assert drift[:12].max() == 0 and drift[12:].min() > 0.02


def test_digit_readout_reads_real_frames(real, bank):
    videos, labels = real
    for v, y in zip(videos, labels):
        out = digit_readout(v, bank.x, bank.y)
        assert out.error.shape == out.label.shape == (24,)
        assert (out.label == y).float().mean() > 0.9  # the nearest training digit has the test digit's label
        assert out.error.mean() < 0.01
    noise = torch.rand(8, 1, 16, 16, generator=GEN)
    assert digit_readout(noise, bank.x, bank.y).error.mean() > 0.2  # noise is no digit on black
    exact = torch.zeros(1, 1, 16, 16)
    exact[0, 0, 3:11, 5:13] = bank.x[7, 0]
    out = digit_readout(exact, bank.x, bank.y)
    assert out.error.item() < 1e-6 and out.label.item() == bank.y[7]
