"""The MindBridge miniature: simulated subjects, the training loops, reset-tuning in the real loop, bad input."""
from __future__ import annotations

import pytest
import torch

from paperlib.core import ParameterError
from paperlib.mindbridge import (ARMS, SCHEMA, build_model, cross_subject, make_setting, new_subject, recipe,
                                 reset_tuning, train)

torch.set_num_threads(1)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def p():
    return SCHEMA.resolve(scale="smoke", device="cpu", steps=6, adapt_steps=4, seeds=1)


@pytest.fixture(scope="module")
def setting(p):
    return make_setting(p)


def test_simulated_subjects_differ_in_size_share_test_stimuli_and_not_training_ones(p, setting):
    subjects = setting.sources + [setting.new]
    assert len(setting.sources) == p.sources and len({s.voxels for s in subjects}) == len(subjects)
    seen = [set(s.train_idx.tolist()) for s in subjects]
    assert all(not (x & y) for i, x in enumerate(seen) for y in seen[i + 1:])
    assert not (set().union(*seen) & set(setting.test_idx.tolist()))
    for s in subjects:
        assert s.train_V.shape == (p.train_per_subject, p.repeats, s.voxels)
        assert s.test_V.shape == (p.test_stimuli, p.repeats, s.voxels)
        assert torch.isfinite(s.train_V).all()
    assert 0.6 < setting.meta["silent_share"] < 0.8
    assert setting.image_tokens.shape[1:] == (17, 64) and setting.text_tokens.shape[1:] == (16, 64)
    cls_norm = setting.image_tokens[:, 0].norm(dim=-1)
    torch.testing.assert_close(cls_norm, torch.ones_like(cls_norm))


def test_responses_carry_the_stimulus(setting):
    s = setting.sources[0]  # repeats of one stimulus agree more than responses to different stimuli
    a, b = s.test_V[:, 0], s.test_V[:, 1]
    same = torch.nn.functional.cosine_similarity(a - a.mean(), b - b.mean(), dim=1).mean()
    other = torch.nn.functional.cosine_similarity(a - a.mean(), (b - b.mean()).roll(1, 0), dim=1).mean()
    assert same > other + 0.05


def test_reset_tuning_in_the_real_loop_changes_only_the_new_subject(p, setting):
    bridge = build_model(setting, setting.sources, p)
    train(bridge, setting, setting.sources, recipe(p, 3), 0, CPU)
    before = {n: q.detach().clone() for n, q in bridge.named_parameters()}
    target = setting.new.subset(0.5)
    tuned = reset_tuning(bridge, target)
    train(tuned, setting, setting.sources + [target], recipe(p, 4), 0, CPU, adapt_target=target.id)
    for n, q in tuned.named_parameters():
        if n.startswith((f"embedders.{target.id}.", f"builders.{target.id}.")):
            assert q.requires_grad
        else:
            assert not q.requires_grad and torch.equal(q, before[n]), n
    assert all(torch.equal(q, before[n]) for n, q in bridge.named_parameters())  # the source model untouched
    assert target.id not in bridge.subjects


def test_both_experiments_return_every_subject_and_arm(p, setting):
    bridge, singles, metrics = cross_subject(setting, p, 0, CPU)
    assert set(metrics["bridge"]) == set(metrics["single"]) == {s.id for s in setting.sources}
    assert all(0 <= m["top1"] <= 1 and -1 <= m["cos_image"] <= 1 for m in metrics["bridge"].values())
    out = new_subject(setting, bridge, p, 0, CPU)
    assert set(out) == {(fr, arm) for fr in p.fractions for arm in ARMS}
    assert out[(min(p.fractions), "scratch")]["n"] < out[(max(p.fractions), "scratch")]["n"]


def test_bad_input_and_parameters_give_clear_errors(p, setting):
    with pytest.raises(KeyError, match="subject 's9': no data"):
        setting.subject("s9")
    with pytest.raises(FileNotFoundError, match="'data_root'.*Natural Scenes"):
        make_setting(SCHEMA.resolve(scale="full", device="cpu"))  # full scale reads NSD; no folder, no run
    with pytest.raises(ValueError, match="fractions"):
        make_setting(SCHEMA.resolve(scale="smoke", device="cpu", fractions=[0.5, 2.0]))
    with pytest.raises(ValueError, match="disjoint training stimuli"):
        make_setting(SCHEMA.resolve(scale="smoke", device="cpu", train_per_subject=400))
    with pytest.raises(ParameterError, match="'pool'"):
        SCHEMA.resolve(scale="smoke", pool="median")
    with pytest.raises(ParameterError, match="'sources'"):
        SCHEMA.resolve(scale="smoke", sources=1)
    model = build_model(setting, setting.sources, p)
    V = setting.sources[0].test_V[:, 0].clone()
    V[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(setting.sources[0].id, V)
    with pytest.raises(ValueError, match="voxels"):
        model(setting.sources[1].id, setting.sources[0].test_V[:, 0])
