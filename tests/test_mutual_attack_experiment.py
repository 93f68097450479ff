"""Mutual-modality attack experiment: every method on a tiny setup, budgets, seeds, success-rate bookkeeping."""
import pytest
import torch

from paperlib import zoo
from paperlib.core import ParameterError
from paperlib.data.digits import digits
from paperlib.mutual_attack import (METHODS, SCHEMA, MLP, AttackRecipe, GameRecipe, Setup, SklearnTarget, World,
                                    as_surrogate, attack_all, class_counts, miniature_targets, run_seeds,
                                    success_table, summarize, target_predictions, tensor_sampler)

torch.set_num_threads(1)
CPU = torch.device("cpu")
GAME = GameRecipe(rounds=1, attack_steps=1, defense_steps=1, batch_size=8, attack_lr=5e-3, defense_lr=3e-2,
                  beta=1.0, generator_width=4, per_class_prompt=True)
ATTACK = AttackRecipe(pgd_steps=2, eval_batch_size=64)


@pytest.fixture(scope="module")
def setup():
    from sklearn.neighbors import KNeighborsClassifier

    clip, _ = zoo.create("tiny_clip", "smoke")
    train, test = digits("train", 16, channels=3), digits("test", 16, channels=3)
    x, y = test.x[:24], test.y[:24]
    torch.manual_seed(0)
    knn = SklearnTarget(KNeighborsClassifier(1)).fit(x, y)  # right on every clean test image
    asked = []

    def world(seed):
        asked.append(seed)
        return World({"1-NN": knn}, MLP().eval())

    s = Setup(as_surrogate(clip), x, y, tensor_sampler(train.x[:64], train.y[:64]), world)
    s.asked = asked
    return s


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_every_method_in_budget_and_zero_budget_changes_nothing(setup, eps):
    adversarial, defense = attack_all(setup, MLP().eval(), GAME, ATTACK, eps, seed=0, device=CPU)
    assert set(adversarial) == set(METHODS)
    assert set(defense) == {"clean_initial", "adv_initial", "adv_final", "clean_final"}
    for m, xa in adversarial.items():
        assert xa.shape == setup.x_test.shape
        assert (xa - setup.x_test).abs().max() <= eps + 1e-6, m
        assert xa.min() >= 0 and xa.max() <= 1, m
    table = success_table(target_predictions({"1-NN": setup.world(0).targets["1-NN"]}, setup.x_test, adversarial),
                          setup.y_test)
    if eps == 0.0:
        assert all(table[m]["1-NN"] == 0.0 for m in METHODS)
        assert defense["adv_initial"] == defense["clean_initial"]


def test_each_seed_gets_its_own_world_and_the_chapter_seed_shifts_them(setup):
    setup.asked.clear()
    runs = run_seeds(setup, GAME, ATTACK, 0.1, [5, 6], CPU)
    assert [r.seed for r in runs] == [5, 6] and setup.asked == [5, 6]
    assert runs[0].adversarial is not None and runs[1].adversarial is None  # images kept for the first seed only
    for r in runs:
        assert set(r.landing) == {"mi_fgsm", "clip_visual", "mutual"}
        assert sum(r.landing["mutual"]["clip"]) == len(setup.y_test)
        assert sum(r.landing["mutual"]["targets"]) == len(setup.y_test)  # one target


def test_miniature_targets_are_trained_per_seed():
    a, b = miniature_targets(["mlp"], 5, seed=0)["mlp"], miniature_targets(["mlp"], 5, seed=1)["mlp"]
    again = miniature_targets(["mlp"], 5, seed=0)["mlp"]
    w = [m.net[1].weight for m in (a, b, again)]
    assert not torch.equal(w[0], w[1]) and torch.equal(w[0], w[2])
    with pytest.raises(ValueError, match="the miniature's targets"):
        miniature_targets(["resnet50"], 5, seed=0)


def test_class_counts_show_a_collapse():
    assert class_counts(torch.tensor([3, 3, 3, 1]), 5) == [0, 1, 0, 3, 0]


def test_summary_is_mean_and_spread_over_targets():
    per_seed = {"a": [{"t1": 0.2, "t2": 0.6}, {"t1": 0.4, "t2": 0.4}]}
    s = summarize(per_seed)["a"]
    assert s["means"] == pytest.approx([0.4, 0.4]) and s["spreads"] == pytest.approx([0.2, 0.0])
    assert s["worsts"] == [0.2, 0.4]
    assert s["mean"] == pytest.approx(0.4) and s["spread"] == pytest.approx(0.1) and s["worst"] == pytest.approx(0.3)


def test_cross_field_checks_refuse_bad_combinations():
    with pytest.raises(ParameterError, match="the miniature's targets"):
        SCHEMA.resolve(scale="smoke", targets=["resnet50"])
    with pytest.raises(ParameterError, match="data_dir"):
        SCHEMA.resolve(scale="full")
    with pytest.raises(ParameterError, match="budgets"):
        SCHEMA.resolve(scale="smoke", budgets=[0.1, 2.0])
    with pytest.raises(ParameterError, match="clip_domains"):
        SCHEMA.resolve(scale="smoke", clip_domains=["mars"])


def test_warm_caches_the_surrogate_clip_and_every_seed_s_models():
    from paperlib.mutual_attack.warm import warm

    assert list(warm("smoke")) == ["surrogate CLIP", "surrogate CNN and targets, seed 0",
                                   "surrogate CNN and targets, seed 1"]
