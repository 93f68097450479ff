"""paperlib.core.cost: PeakLiveBytes counts the tensor bytes a computation holds at once, exactly and the same
every time (FlopCount and SavedBytes are tested on Teddy's gradients, allocated_peak on LinFusion's kernels)."""
import torch

from paperlib.core.cost import PeakLiveBytes, uncounted
from paperlib.video_infinity import make_video_unet


def test_counts_allocations_and_releases():
    x = torch.zeros(1000)  # existed before: not counted
    with PeakLiveBytes() as m:
        a = x + 1  # 4000 bytes
        b = a * 2  # 8000 alive
        del a  # back to 4000
        c = b + 1  # 8000 again
        b.add_(1)  # in place: nothing new
        v = c[:10]  # a view: nothing new
    assert m.peak == 8000
    del b, c, v
    assert m.live == 0


def test_a_unet_call_scales_with_the_frames_and_repeats_exactly():
    unet = make_video_unet(0, torch.float32, sample_size=4)
    cond = torch.randn(1, 4, 32)
    peaks = []
    for frames in (4, 8, 8):
        with torch.no_grad(), PeakLiveBytes() as m:
            unet(torch.randn(1, 4, frames, 4, 4), torch.tensor(500), encoder_hidden_states=cond)
        peaks.append(m.peak)
    assert peaks[1] == peaks[2]  # the same computation, the same count
    assert 1.8 < peaks[1] / peaks[0] < 2.05  # activations follow the frames


def test_uncounted_leaves_a_backends_buffers_out_and_counts_what_is_copied_out():
    with PeakLiveBytes() as m:
        with uncounted():
            buffer = torch.zeros(1000)  # handed to a backend, freed on its thread: not counted
        copy = buffer.clone()  # 4000 bytes
        del buffer
    assert m.peak == 4000 and copy.numel() == 1000
