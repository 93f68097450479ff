"""HeLlO kernels: LoRA deltas against float64 references, Proposition 1, gradients, bytes, augmentation."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn
import torch.nn.functional as F

from paperlib.hello import kernels as K
from paperlib.hello.experiment import StudentRecipe, select_rded, train_student
from paperlib.hello.models import ZOO_TEMPLATES, TeacherPool, build_projector, check_teacher
from paperlib.data import CLASS_NAMES
from paperlib.zoo import ZeroShotClassifier, SmallCNN, class_text_embeddings, clip_normalize, make_tiny_clip, tokenizer
from paperlib.zoo.pretrained import LoadedClip


@pytest.fixture(scope="module")
def clip():
    torch.manual_seed(0)
    return make_tiny_clip().eval()


@pytest.fixture(scope="module")
def loaded(clip):
    return LoadedClip(clip, tokenizer(), 16)


@pytest.fixture(scope="module")
def text(clip):
    return class_text_embeddings(clip, CLASS_NAMES)


def _randomise(deltas):
    with torch.no_grad():
        for d in deltas.values():
            d.B.normal_()


def test_linear_delta_matches_float64_reference():
    torch.manual_seed(0)
    lin = nn.Linear(7, 5).double()
    W = lin.weight.detach().clone()
    deltas = K.add_lora(lin, 3)
    _randomise(deltas)
    d = deltas["weight"]
    x = torch.randn(4, 7, dtype=torch.float64)
    ref = x @ (W + d.B.detach() @ d.A.detach()).T + lin.bias.detach()
    torch.testing.assert_close(lin(x), ref)


def test_conv_delta_is_kxk_to_r_then_1x1():
    """The card's factorisation: a k x k conv to r channels followed by a 1 x 1 conv from r channels."""
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 6, 3, padding=1, bias=False).double()
    W = conv.weight.detach().clone()
    d = K.add_lora(conv, 2)["weight"]
    with torch.no_grad():
        d.B.normal_()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    down = F.conv2d(x, d.A.detach().reshape(2, 3, 3, 3), padding=1)           # k x k conv to r channels
    up = F.conv2d(down, d.B.detach().reshape(6, 2, 1, 1))                     # 1 x 1 conv from r channels
    torch.testing.assert_close(conv(x), F.conv2d(x, W, padding=1) + up)


def test_projector_at_zero_factors_is_zero_shot_clip(clip, loaded, text):
    """Proposition 1: with B = 0 (the initialisation) the projector equals zero-shot CLIP."""
    proj = build_projector(loaded, CLASS_NAMES, CLASS_NAMES, ZOO_TEMPLATES, rank_encoder=2, rank_head=4).eval()
    zs = ZeroShotClassifier(clip, text, clip_normalize).eval()
    x = torch.rand(6, 3, 16, 16)
    torch.testing.assert_close(proj(x), zs(x), rtol=1e-5, atol=1e-5)
    # move away from zero and back: equal again
    with torch.no_grad():
        for d in proj.deltas.values():
            d.B.normal_()
        proj.B_h.normal_()
    assert not torch.allclose(proj(x), zs(x), atol=1e-3)
    with torch.no_grad():
        for d in proj.deltas.values():
            d.B.zero_()
        proj.B_h.zero_()
    torch.testing.assert_close(proj(x), zs(x), rtol=1e-5, atol=1e-5)


def test_projector_leaves_the_zoo_clip_untouched(clip, loaded):
    before = {k: v.clone() for k, v in clip.state_dict().items()}
    proj = build_projector(loaded, CLASS_NAMES, CLASS_NAMES, ZOO_TEMPLATES, 2, 4)
    with torch.no_grad():
        for d in proj.deltas.values():
            d.B.normal_()
    after = clip.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.requires_grad for p in clip.parameters())


@pytest.mark.parametrize("head", ["text", "random"])
def test_only_the_factors_receive_gradients(clip, text, head):
    proj = K.Projector(clip, text, 2, 4, head=head, preprocess=clip_normalize)
    with torch.no_grad():
        for d in proj.deltas.values():
            d.B.normal_(std=0.01)
    loss = K.label_loss(proj(torch.rand(4, 3, 16, 16)), torch.full((4, 10), 0.1), torch.arange(4), 0.1)
    loss.backward()
    trainable = {n for n, p in proj.named_parameters() if p.requires_grad}
    assert trainable == set(proj.stored_tensors())
    for n, p in proj.named_parameters():
        if p.requires_grad:
            assert n.endswith((".A", ".B", "A_h", "B_h")) or n == "W", n
            assert p.grad is not None and torch.isfinite(p.grad).all(), n
        else:
            assert p.grad is None, n
    if head == "text":
        assert "W0" in dict(proj.named_buffers())  # the text head is a buffer: rebuilt, not stored


def test_projector_bytes_are_the_factor_sizes(clip, text):
    r_e, r_h = 2, 4
    proj = K.Projector(clip, text, r_e, r_h, preprocess=clip_normalize)
    expected = 0
    for name, p in clip.visual.named_parameters():
        base = name.rsplit(".", 1)[-1]
        if (base == "weight" and p.dim() in (2, 4)) or base in ("in_proj_weight", "proj"):
            expected += r_e * (p.shape[0] + math.prod(p.shape[1:]))
    d_f, C = proj.W0.shape
    expected += r_h * (d_f + C)
    assert proj.stored_bytes() == 4 * expected
    assert proj.stored_bytes() == sum(t.numel() * t.element_size() for t in proj.stored_tensors().values())


@pytest.mark.parametrize("fmt", K.FORMATS)
def test_stored_label_bytes_match_tensor_sizes(fmt):
    probs = torch.rand(3, 5, 10).softmax(-1)
    stored = K.store_labels(probs, fmt)
    assert stored.nbytes == sum(t.numel() * t.element_size() for t in stored.tensors.values())
    assert stored.nbytes == 3 * K.bytes_per_view(5, 10, fmt)
    dec = stored.decode(slice(None))
    assert dec.shape == probs.shape
    torch.testing.assert_close(dec.sum(-1), torch.ones(3, 5), atol=2e-3, rtol=0)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.integers(3, 12), st.integers(0, 10_000))
def test_label_codecs_roundtrip(views, n, C, seed):
    g = torch.Generator().manual_seed(seed)
    probs = (3 * torch.randn(views, n, C, generator=g)).softmax(-1)
    assert torch.equal(K.store_labels(probs, "fp32").decode(), probs)
    torch.testing.assert_close(K.store_labels(probs, "fp16").decode(), probs, atol=1e-3, rtol=0)
    torch.testing.assert_close(K.store_labels(probs, "int8").decode(), probs, atol=0.03, rtol=0)
    top1 = K.store_labels(probs, "top1").decode()
    assert torch.equal(top1.argmax(-1), probs.argmax(-1))


def test_views_for_budget():
    assert K.views_for_budget(10 * 40, 10, 10, "fp32", 100) == 1 * 10 // 10
    assert K.views_for_budget(4000, 10, 10, "fp32", 5) == 5
    assert K.views_for_budget(1, 10, 10, "fp32", 5) == 1
    assert K.views_for_budget(3000, 10, 10, "top1", 1000) == 3000 // 30


def test_augment_is_a_seeded_shift_plus_noise():
    x = torch.rand(5, 3, 8, 8)
    a1 = K.augment(x, torch.Generator().manual_seed(3), shift=1, noise=0.0)
    a2 = K.augment(x, torch.Generator().manual_seed(3), shift=1, noise=0.0)
    assert torch.equal(a1, a2)
    for i in range(5):  # each image is a shift of its original by at most one pixel (zero fill)
        padded = F.pad(x[i], [1] * 4)
        assert any(torch.equal(a1[i], padded[:, dy:dy + 8, dx:dx + 8]) for dy in range(3) for dx in range(3))


def test_identical_augmentation_reaches_student_and_projector(monkeypatch):
    """The student and the label generator get the very same augmented tensor at every step."""
    seen_labels, seen_student = [], []

    def label_fn(x_aug, e):
        seen_labels.append(x_aug.clone())
        return torch.full((x_aug.shape[0], 10), 0.1)

    import paperlib.hello.experiment as E

    real = E.make_student

    def spy(*a, **k):
        m = real(*a, **k)
        m.register_forward_pre_hook(lambda mod, args: seen_student.append(args[0].clone()))
        return m

    monkeypatch.setattr(E, "make_student", spy)
    x_s, y_s = torch.rand(10, 3, 16, 16), torch.arange(10)
    train_student(x_s, y_s, label_fn, StudentRecipe(steps=4), seed=0)
    assert len(seen_student) == len(seen_labels) == 4
    for a, b in zip(seen_student, seen_labels):
        assert torch.equal(a, b)
    assert not torch.equal(seen_labels[0], seen_labels[1])  # a fresh view each step


def test_stored_views_replay_the_same_augmentations():
    x_s, y_s = torch.rand(4, 3, 16, 16), torch.arange(4)
    stream = K.OnlineLabelStream(x_s, y_s, None, seed=2, views=3)
    assert torch.equal(stream.view(1)[0], stream.view(4)[0])
    assert not torch.equal(stream.view(0)[0], stream.view(1)[0])


def test_teacher_pool_averages_probabilities():
    torch.manual_seed(0)
    ts = [SmallCNN(3, 8, 10).eval() for _ in range(3)]
    x = torch.rand(4, 3, 16, 16)
    pool = TeacherPool(ts, 10, x)
    ref = sum(t(x).softmax(-1) for t in ts) / 3
    torch.testing.assert_close(pool(x), ref)
    torch.testing.assert_close(pool(x).sum(-1), torch.ones(4))


def test_select_rded_picks_the_most_confident_per_class():
    torch.manual_seed(0)
    x, y = torch.rand(30, 3, 16, 16), torch.arange(30) % 3
    teacher = SmallCNN(3, 8, 3).eval()
    x_s, y_s, idx = select_rded(x, y, teacher, 2)
    assert y_s.tolist() == [0, 0, 1, 1, 2, 2]
    with torch.no_grad():
        score = teacher(x).softmax(-1)[torch.arange(30), y]
    for c in range(3):
        chosen = set(idx[y_s == c].tolist())
        best = set(torch.nonzero(y == c).flatten()[score[y == c].argsort(descending=True)[:2]].tolist())
        assert chosen == best


def test_down_then_up_sampling():
    x = torch.rand(3, 3, 16, 16, dtype=torch.float64)
    s = K.downsample(x, 2)
    torch.testing.assert_close(s[:, :, 1, 2], x[:, :, 2:4, 4:6].mean((-2, -1)))  # area average
    assert K.upsample(s, 16).shape == x.shape and torch.equal(K.downsample(x, 1), x)
    flat = torch.full((1, 3, 8, 8), 0.3)
    torch.testing.assert_close(K.upsample(flat, 16), torch.full((1, 3, 16, 16), 0.3))
    with pytest.raises(ValueError, match="image_downsample: 3 does not divide"):
        K.downsample(x, 3)


def test_update_images_reduces_the_patch_fidelity_gap(clip, text):
    """G = ||e(p) - e(up(s))||^2 falls from its value at s = down(p); only the stored pixels move."""
    torch.manual_seed(0)
    proj = K.Projector(clip, text, 1, 1, preprocess=clip_normalize).eval()
    with torch.no_grad():
        for d in proj.deltas.values():
            d.B.normal_(std=0.1)
    x = torch.rand(6, 3, 16, 16)
    before = {k: v.clone() for k, v in proj.state_dict().items()}
    s = K.update_images(x, proj.embed, 2, steps=20, lr=0.02)
    assert s.shape == (6, 3, 8, 8) and s.min() >= 0 and s.max() <= 1
    g0, g1 = K.fidelity_gap(proj.embed, x, K.downsample(x, 2)), K.fidelity_gap(proj.embed, x, s)
    assert (g1 < g0).all() and g1.mean() < 0.7 * g0.mean()
    assert all(torch.equal(before[k], v) for k, v in proj.state_dict().items())
    assert all(p.grad is None for p in proj.parameters())  # the factors got no gradient
    assert torch.equal(K.update_images(x, proj.embed, 2, steps=0), K.downsample(x, 2))
    chunked = K.update_images(x, proj.embed, 2, steps=3, lr=0.02, chunk=4)
    torch.testing.assert_close(chunked, K.update_images(x, proj.embed, 2, steps=3, lr=0.02), atol=1e-5, rtol=0)


# ---- bad input -------------------------------------------------------------------------------------
def test_rank_larger_than_layer_width_is_a_clear_error(clip, text):
    with pytest.raises(ValueError, match="larger than the width of layer"):
        K.add_lora(nn.Linear(4, 3), 5)
    with pytest.raises(ValueError, match="larger than the width"):
        K.Projector(clip, text, rank_encoder=100, rank_head=1)
    with pytest.raises(ValueError, match="larger than the width of the head"):
        K.Projector(clip, text, rank_encoder=1, rank_head=11)
    with pytest.raises(ValueError, match="expected an integer >= 1"):
        K.add_lora(nn.Linear(4, 3), 0)


def test_class_names_must_match_the_dataset(loaded):
    with pytest.raises(ValueError, match="do not match the dataset's 10 classes"):
        build_projector(loaded, CLASS_NAMES[:9], CLASS_NAMES, ZOO_TEMPLATES, 1, 1)
    with pytest.raises(ValueError, match="different order"):
        build_projector(loaded, CLASS_NAMES[::-1], CLASS_NAMES, ZOO_TEMPLATES, 1, 1)
    with pytest.raises(ValueError, match="unknown"):
        K.check_class_names(list(CLASS_NAMES[:9]) + ["ten"], CLASS_NAMES)


def test_teacher_with_other_class_count_is_a_clear_error():
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="scores 7 classes but the dataset has 10"):
        TeacherPool([SmallCNN(3, 8, 7)], 10, x)
    with pytest.raises(ValueError, match="scores 7 classes"):
        check_teacher(SmallCNN(3, 8, 7), x, 10)


def test_bad_label_format_and_shapes():
    with pytest.raises(ValueError, match="label format"):
        K.store_labels(torch.rand(1, 2, 3), "bf8")
    with pytest.raises(ValueError, match="views, images, classes"):
        K.store_labels(torch.rand(2, 3), "fp32")
    with pytest.raises(ValueError, match="do not match logits"):
        K.label_loss(torch.rand(2, 3), torch.rand(2, 4), torch.zeros(2, dtype=torch.long), 1.0)


def test_compressed_arms_reuse_the_full_arms_views():
    """With the shared cache, a budget-limited arm stores exactly the first views of the full arm."""
    from paperlib.hello.experiment import stored_arm

    torch.manual_seed(0)
    teacher = TeacherPool([SmallCNN(3, 8, 10)], 10, temperature=4.0)
    x_s, y_s = torch.rand(10, 3, 16, 16), torch.arange(10)
    rec = StudentRecipe(steps=6)
    cache: dict = {}
    full_fn, full_views, full_bytes = stored_arm(teacher, x_s, y_s, rec, "fp32", cache=cache)(3)
    top_fn, views, nbytes = stored_arm(teacher, x_s, y_s, rec, "fp16", budget=2 * 200, cache=cache)(3)
    plain_fn, _, plain_bytes = stored_arm(teacher, x_s, y_s, rec, "fp16", budget=2 * 200)(3)
    assert (full_views, full_bytes, views, nbytes, plain_bytes) == (6, 6 * 400, 2, 400, 400)
    x = torch.zeros(1)
    for e in range(4):
        torch.testing.assert_close(top_fn(x, e), plain_fn(x, e))
        torch.testing.assert_close(top_fn(x, e), full_fn(x, e % 2), atol=1e-3, rtol=0)


# ---- CutMix, the label space, mini-batches --------------------------------------------------------
def test_cutmix_pastes_one_box_and_mixes_labels_by_its_area():
    x = torch.zeros(4, 1, 8, 8)
    for i in range(4):
        x[i] = i + 1  # image i is the constant i + 1
    y = torch.arange(4)
    g = torch.Generator().manual_seed(5)
    xm, ym = K.cutmix(x, y, 4, g, prob=1.0)
    for i in range(4):
        other = (xm[i] != i + 1)
        area = other.float().mean().item()
        assert torch.allclose(ym[i].sum(), torch.tensor(1.0))
        assert ym[i, i].item() == pytest.approx(1 - area, abs=1e-6) or area == 0
        if area:
            j = int(xm[i][other][0].item()) - 1  # pasted from image j, and only from j
            assert (xm[i][other] == j + 1).all() and ym[i, j].item() == pytest.approx(area, abs=1e-6)
    x0, y0 = K.cutmix(x, y, 4, torch.Generator().manual_seed(5), prob=0.0)
    assert torch.equal(x0, x) and torch.equal(y0, F.one_hot(y, 4).float())


def test_label_loss_in_logit_space_ignores_offsets_and_matches_a_reference():
    torch.manual_seed(0)
    z = torch.randn(5, 7, dtype=torch.float64)
    t = torch.randn(5, 7, dtype=torch.float64)
    T = 3.0
    target = (t / T).softmax(-1)
    y = torch.randint(0, 7, (5,))
    got = K.label_loss(z, target, y, 0.0, T, space="logits")
    zc, tc = z - z.mean(-1, keepdim=True), t - t.mean(-1, keepdim=True)  # logits up to their offset
    torch.testing.assert_close(got, ((zc - tc) ** 2).mean())
    torch.testing.assert_close(K.label_loss(z + 4.0, target, y, 0.0, T, space="logits"), got)
    assert K.label_loss(t, target, y, 0.0, T, space="logits").item() < 1e-12
    with pytest.raises(ValueError, match="label space"):
        K.label_loss(z, target, y, 0.0, T, space="bits")


def test_label_loss_accepts_mixed_one_hot_labels():
    z = torch.randn(3, 4)
    y = torch.tensor([0, 1, 2])
    torch.testing.assert_close(K.label_loss(z, None, F.one_hot(y, 4).float(), 0.1), K.label_loss(z, None, y, 0.1))


def test_minibatch_views_are_seeded_subsets_with_their_own_labels():
    x_s, y_s = torch.rand(10, 3, 8, 8), torch.arange(10)
    stream = K.OnlineLabelStream(x_s, y_s, None, seed=1, views=None, shift=0, noise=0.0, batch_size=4)
    xa, e, ya = stream.view(3)
    assert xa.shape == (4, 3, 8, 8) and e == 3
    for img, lab in zip(xa, ya):
        assert torch.equal(img, x_s[lab])  # each image arrives with its own label
    assert torch.equal(stream.view(3)[0], xa)
