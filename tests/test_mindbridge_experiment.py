"""The MindBridge miniature: simulated subjects at any share of common structure, the training loops through
core.fit, equal samples seen, reset-tuning in the real loop, bad input."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from paperlib.core import ParameterError, recipe
from paperlib.mindbridge import (ARMS, SCHEMA, ModelRecipe, ProtocolRecipe, SimRecipe, TrainRecipe, build_model,
                                 cross_subject, epoch_steps, new_subject, reset_tuning, setting_factory,
                                 simulated_setting, train)
from paperlib.mindbridge.simulate import TEMPLATE_ANCHORS, voxel_gains

torch.set_num_threads(1)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def p():
    return SCHEMA.resolve(scale="smoke", device="cpu", steps=6, adapt_epochs=1, seeds=1, sharing_seeds=1)


@pytest.fixture(scope="module")
def make(p):
    return setting_factory(p, CPU)


@pytest.fixture(scope="module")
def setting(make):
    return make(0.5, 0)


def recipes(p):
    return recipe(ModelRecipe, p), recipe(TrainRecipe, p), recipe(ProtocolRecipe, p, fractions=tuple(p.fractions))


def test_simulated_subjects_differ_in_size_share_test_stimuli_and_not_training_ones(p, setting):
    subjects = setting.sources + [setting.new]
    assert len(setting.sources) == p.n_sources and len({s.voxels for s in subjects}) == len(subjects)
    seen = [set(s.train_idx.tolist()) for s in subjects]
    assert all(not (x & y) for i, x in enumerate(seen) for y in seen[i + 1:])
    assert not (set().union(*seen) & set(setting.test_idx.tolist()))
    for s in subjects:
        assert s.train_V.shape == (p.n_train, p.repeats, s.voxels)
        assert s.test_V.shape == (p.n_test, p.repeats, s.voxels)
        assert torch.isfinite(s.train_V).all()
    assert 0.6 < setting.meta["silent_share"] < 0.8
    assert setting.image_tokens.shape[1:] == (17, 64) and setting.text_tokens.shape[1:] == (16, 64)
    cls_norm = setting.image_tokens[:, 0].norm(dim=-1)
    torch.testing.assert_close(cls_norm, torch.ones_like(cls_norm))


def test_responses_carry_the_stimulus(setting):
    s = setting.sources[0]  # repeats of one stimulus agree more than responses to different stimuli
    a, b = s.test_V[:, 0], s.test_V[:, 1]
    same = F.cosine_similarity(a - a.mean(), b - b.mean(), dim=1).mean()
    other = F.cosine_similarity(a - a.mean(), (b - b.mean()).roll(1, 0), dim=1).mean()
    assert same > other + 0.05


def _best_match(shared: float, seed: int) -> float:
    """Mean over one subject's voxels of the cosine to the closest voxel of another subject, in gain space."""
    gen = torch.Generator().manual_seed(seed)
    template = torch.randn(TEMPLATE_ANCHORS, 64, generator=gen)
    a, b = (F.normalize(voxel_gains(voxels, template, shared, gen), dim=1) for voxels in (400, 300))
    return (b @ a.T).max(1).values.mean().item()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_share_of_common_structure_sets_how_alike_subjects_are(seed):
    # at share 1 every voxel of one subject has a near twin in the other (the template read along another warp)
    alike = [_best_match(shared, seed) for shared in (1.0, 0.5, 0.0)]
    assert alike[0] > 0.8 and alike[0] > alike[1] + 0.2 and alike[1] > alike[2] + 0.1


def test_each_seed_draws_other_subjects_and_the_same_seed_the_same(make):
    a, b, again = make(0.5, 0), make(0.5, 1), make(0.5, 0)
    assert torch.equal(a.sources[0].train_V, again.sources[0].train_V)
    assert not torch.equal(a.sources[0].train_idx, b.sources[0].train_idx)
    assert not torch.allclose(a.sources[0].clean_test, b.sources[0].clean_test)
    assert torch.equal(a.test_idx, b.test_idx)  # the shared test stimuli stay


def test_reset_tuning_in_the_real_loop_changes_only_the_new_subject(p, setting):
    m, r, _ = recipes(p)
    bridge = build_model(setting, setting.sources, m)
    train(bridge, setting, setting.sources, TrainRecipe(3, 4, 1e-3), 0, CPU)
    before = {n: q.detach().clone() for n, q in bridge.named_parameters()}
    target = setting.new.subset(0.5)
    tuned = reset_tuning(bridge, target)
    losses = train(tuned, setting, [s.first(len(target.train_idx)) for s in setting.sources], TrainRecipe(4, 4, 1e-3),
                   0, CPU, adapt_target=target)
    assert len(losses) == 4
    for n, q in tuned.named_parameters():
        if n.startswith((f"embedders.{target.id}.", f"builders.{target.id}.")):
            assert q.requires_grad
        else:
            assert not q.requires_grad and torch.equal(q, before[n]), n
    assert all(torch.equal(q, before[n]) for n, q in bridge.named_parameters())  # the source model untouched
    assert target.id not in bridge.subjects


def test_gradients_are_clipped_to_norm_one_before_each_step(setting):
    from paperlib.mindbridge.train import optimizer

    model = build_model(setting, setting.sources[:1], ModelRecipe(16, 8, 1, 2), with_builders=False)
    opt, _ = optimizer(model, TrainRecipe(10, 4, 0.0))  # lr 0: only the hook acts
    for q in model.parameters():
        q.grad = torch.full_like(q, 10.0)
    opt.step()
    total = torch.sqrt(sum((q.grad ** 2).sum() for q in model.parameters()))
    assert total == pytest.approx(1.0, rel=1e-4)


def test_both_experiments_equalise_samples_and_return_every_subject_and_arm(p, setting):
    m, r, protocol = recipes(p)
    bridge, singles, metrics = cross_subject(setting, m, r, protocol, 0, CPU)
    assert set(metrics["bridge"]) == set(metrics["single"]) == {s.id for s in setting.sources}
    out = new_subject(setting, bridge, m, r, protocol, 0, CPU)
    assert set(out) == {(fr, arm) for fr in p.fractions for arm in ARMS}
    low, high = min(p.fractions), max(p.fractions)
    assert out[(low, "scratch")]["n"] < out[(high, "scratch")]["n"]
    # steps follow the data: adapt_epochs passes over n samples
    assert out[(high, "reset")]["steps"] == epoch_steps(p.adapt_epochs, out[(high, "reset")]["n"], p.batch_size)
    assert epoch_steps(200, 4000, 50) == 16000 and epoch_steps(200, 500, 50) == 2000


def test_bad_input_and_parameters_give_clear_errors(p, setting):
    with pytest.raises(KeyError, match="subject 's9': no data"):
        setting.subject("s9")
    with pytest.raises(ParameterError, match="'data_dir'.*Natural Scenes"):
        SCHEMA.resolve(scale="full", device="cpu")  # full scale reads NSD; no folder, no run
    with pytest.raises(ParameterError, match="fractions"):
        SCHEMA.resolve(scale="smoke", device="cpu", fractions=[0.5, 2.0])
    with pytest.raises(ParameterError, match="sharing"):
        SCHEMA.resolve(scale="smoke", device="cpu", sharing=[1.5])
    with pytest.raises(ParameterError, match="disjoint"):
        SCHEMA.resolve(scale="smoke", device="cpu", n_train=400)
    with pytest.raises(ParameterError, match="bridge_batch_size"):
        SCHEMA.resolve(scale="smoke", device="cpu", bridge_batch_size=32)
    with pytest.raises(ParameterError, match="'pool'"):
        SCHEMA.resolve(scale="smoke", pool="median")
    with pytest.raises(ValueError, match="sharing"):
        simulated_setting(None, SimRecipe(2, 10, 4, 4, 1, 0.1), 2.0, 0)
    model = build_model(setting, setting.sources, recipe(ModelRecipe, p))
    V = setting.sources[0].test_V[:, 0].clone()
    V[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(setting.sources[0].id, V)
    with pytest.raises(ValueError, match="voxels"):
        model(setting.sources[1].id, setting.sources[0].test_V[:, 0])
