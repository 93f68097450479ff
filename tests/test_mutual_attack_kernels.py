"""Mutual-modality attack: budgets, ranges, what the defense may touch, references, bad input."""
import pytest
import torch
import torch.nn.functional as F

from paperlib import zoo
from paperlib.data.digits import CLASS_NAMES
from paperlib.mutual_attack import (SCHEMA, BudgetError, ClassMismatchError, GameRecipe, ImageRangeError, MLP,
                                    PerturbationGenerator, PromptLearner, attack_loss, batch_entropy, check_classes,
                                    fgsm, generate, mi_fgsm, mutual_train, pgd, random_noise, success_rate,
                                    tensor_sampler)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def clip():
    model, _ = zoo.create("tiny_clip", "smoke")
    return model


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 16, 16, generator=g)
    y = torch.randint(0, 10, (16,), generator=g)
    return x, y


def _net():
    torch.manual_seed(0)
    return MLP().eval()


def _in_budget(x_adv, x, eps):
    return bool(((x_adv - x).abs() <= eps + 1e-6).all() and x_adv.min() >= 0 and x_adv.max() <= 1)


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.3])
def test_every_baseline_stays_in_budget_and_range(data, eps):
    x, y = data
    net = _net()
    for x_adv in (random_noise(x, eps), fgsm(net, x, y, eps), pgd(net, x, y, eps, 3), mi_fgsm(net, x, y, eps, 3)):
        assert _in_budget(x_adv, x, eps)
        if eps == 0.0:
            assert torch.equal(x_adv, x)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_generator_stays_in_budget_and_zero_budget_is_identity(data, eps):
    x, _ = data
    torch.manual_seed(0)
    gen = PerturbationGenerator(eps, width=8)
    with torch.no_grad():  # random weights: make the raw output large, tanh saturates
        gen.net[-1].weight.mul_(100)
    x_adv = generate(gen, x)
    assert _in_budget(x_adv, x, eps)
    if eps == 0.0:
        assert torch.equal(x_adv, x)
    else:
        assert (x_adv - x).abs().max() > 0.5 * eps


def test_fgsm_matches_float64_reference(data):
    x, y = data
    net = _net()
    ref_net = _net().double()
    xd = x.double().requires_grad_(True)
    F.cross_entropy(ref_net(xd), y).backward()
    ref = (x.double() + 0.1 * xd.grad.sign()).clamp(0, 1)
    out = fgsm(net, x, y, 0.1)
    agree = (out.double() - ref).abs() < 1e-6
    assert agree.float().mean() > 0.99  # sign of near-zero gradients may flip in float32


def test_mi_fgsm_with_zero_momentum_is_iterative_fgsm(data):
    x, y = data
    net = _net()
    eps, steps = 0.1, 3
    ref = x.clone()
    for _ in range(steps):
        xr = ref.clone().requires_grad_(True)
        F.cross_entropy(net(xr), y).backward()
        ref = torch.min(torch.max(ref + eps / steps * xr.grad.sign(), x - eps), x + eps).clamp(0, 1).detach()
    assert torch.allclose(mi_fgsm(net, x, y, eps, steps, mu=0.0), ref)


def test_prompt_learner_starts_at_the_hand_prompt(clip):
    prompt = PromptLearner(clip, CLASS_NAMES, "a photo of the digit")
    assert [n for n, _ in prompt.named_parameters()] == ["ctx"]
    tokens = zoo.tokenizer()([f"a photo of the digit {n}." for n in CLASS_NAMES])
    with torch.no_grad():
        ref = F.normalize(clip.double().encode_text(tokens), dim=-1)
        clip.float()
        out = prompt().double()
    assert torch.allclose(out, ref, atol=1e-5)


def test_defense_changes_only_the_prompt(clip, data):
    x, y = data
    torch.manual_seed(0)
    prompt = PromptLearner(clip, CLASS_NAMES)
    gen = PerturbationGenerator(0.1, width=8)
    clip_before = {k: v.clone() for k, v in clip.state_dict().items()}
    ctx_before = prompt.ctx.detach().clone()
    # defense only: zero attack steps, so the generator must not move either
    gen_before = {k: v.clone() for k, v in gen.state_dict().items()}
    mutual_train(clip, prompt, gen, tensor_sampler(x, y)(8, 0, torch.device("cpu")), GameRecipe(1, 0, 3))
    assert not torch.equal(prompt.ctx, ctx_before)
    assert all(torch.equal(v, clip_before[k]) for k, v in clip.state_dict().items())
    assert all(torch.equal(v, gen_before[k]) for k, v in gen.state_dict().items())


def test_attack_changes_only_the_generator(clip, data):
    x, y = data
    torch.manual_seed(0)
    prompt = PromptLearner(clip, CLASS_NAMES)
    gen = PerturbationGenerator(0.1, width=8)
    ctx_before = prompt.ctx.detach().clone()
    w_before = gen.net[0].weight.detach().clone()
    mutual_train(clip, prompt, gen, tensor_sampler(x, y)(8, 0, torch.device("cpu")), GameRecipe(1, 2, 0, beta=1.0))
    assert torch.equal(prompt.ctx, ctx_before)
    assert not torch.equal(gen.net[0].weight, w_before)


def test_per_class_context_gives_each_class_its_own_prompt(clip, data):
    x, y = data
    prompt = PromptLearner(clip, CLASS_NAMES, "a photo of the digit", per_class=True)
    shared = PromptLearner(clip, CLASS_NAMES, "a photo of the digit")
    assert prompt.ctx.shape == (10,) + tuple(shared.ctx.shape)
    with torch.no_grad():  # starts at the hand prompt, like the shared context
        assert torch.allclose(prompt(), shared(), atol=1e-6)
        prompt.ctx[3] += torch.randn(prompt.ctx[3].shape, generator=torch.Generator().manual_seed(0))  # class 3 only
        moved = (prompt() - shared()).norm(dim=-1)
    assert moved[3] > 1e-3 and torch.all(moved[torch.arange(10) != 3] < 1e-6)
    gen = PerturbationGenerator(0.1, width=8)
    mutual_train(clip, prompt, gen, tensor_sampler(x, y)(8, 0, torch.device("cpu")), GameRecipe(1, 0, 2))
    assert prompt.ctx.grad is not None


def test_batch_entropy_is_log_k_when_spread_and_zero_when_collapsed():
    spread = torch.eye(4) * 50
    collapsed = torch.zeros(4, 4)
    collapsed[:, 2] = 50
    assert batch_entropy(spread).item() == pytest.approx(torch.log(torch.tensor(4.0)).item(), abs=1e-4)
    assert batch_entropy(collapsed).item() == pytest.approx(0.0, abs=1e-4)


def test_attack_loss_adds_beta_times_the_batch_entropy(clip, data):
    from paperlib.mutual_attack import image_embedding, zero_shot_logits

    x, y = data
    text = PromptLearner(clip, CLASS_NAMES)().detach()
    x_adv = (x + 0.1).clamp(0, 1)
    with torch.no_grad():
        plain = attack_loss(clip, x, x_adv, y, text, lam=1.0)
        with_entropy = attack_loss(clip, x, x_adv, y, text, lam=1.0, beta=0.5)
        entropy = batch_entropy(zero_shot_logits(clip, image_embedding(clip, x_adv), text))
    assert with_entropy.item() == pytest.approx(plain.item() + 0.5 * entropy.item(), rel=1e-5)


def test_success_rate_counts_only_clean_correct():
    y = torch.tensor([0, 1, 2, 3])
    clean = torch.tensor([0, 1, 2, 0])  # the last one is wrong when clean: not counted
    adv = torch.tensor([1, 1, 0, 3])
    assert success_rate(clean, adv, y) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no clean image right"):
        success_rate(torch.tensor([1]), torch.tensor([1]), torch.tensor([0]))


@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan"), "big"])
def test_bad_budget_is_a_clear_error(data, eps):
    x, y = data
    with pytest.raises(BudgetError, match="eps: expected a number in \\[0, 1\\]"):
        fgsm(_net(), x, y, eps)
    with pytest.raises(BudgetError):
        PerturbationGenerator(eps)


def test_images_outside_the_unit_range_are_a_clear_error(data):
    x, y = data
    with pytest.raises(ImageRangeError, match="expected values in \\[0, 1\\]"):
        random_noise(x * 2 - 1, 0.1)
    with pytest.raises(ImageRangeError):
        pgd(_net(), x + 1.0, y, 0.1)


def test_class_prompts_must_match_the_targets():
    with pytest.raises(ClassMismatchError, match="expected 10 distinct class names"):
        check_classes(CLASS_NAMES[:9], 10)
    with pytest.raises(ClassMismatchError):
        check_classes(("one",) * 10, 10)


def test_schema_rejects_a_negative_budget():
    from paperlib.core import ParameterError

    with pytest.raises(ParameterError, match="eps"):
        SCHEMA.resolve(scale="smoke", eps=-0.1)
    with pytest.raises(ParameterError, match="eps"):
        SCHEMA.resolve(scale="smoke", eps=2.0)


def test_surrogate_wrapper_keeps_the_tiny_clip_convention(clip, data):
    from paperlib.mutual_attack import ClipSurrogate, as_surrogate, image_embedding

    x, _ = data
    sur = as_surrogate(clip)
    assert isinstance(sur, ClipSurrogate) and as_surrogate(sur) is sur and sur.image_size == 16
    with torch.no_grad():
        ref = F.normalize(clip.encode_image(x * 2 - 1), dim=-1)
        assert torch.allclose(image_embedding(clip, x), ref, atol=1e-6)
        assert torch.allclose(image_embedding(sur, x), ref, atol=1e-6)
    assert [n for n, _ in PromptLearner(sur, CLASS_NAMES).named_parameters()] == ["ctx"]
