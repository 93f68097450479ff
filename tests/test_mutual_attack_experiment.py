"""Mutual-modality attack experiment: every method on a tiny setup, budgets, success-rate bookkeeping."""
import pytest
import torch

from paperlib import zoo
from paperlib.data.digits import digits
from paperlib.mutual_attack import METHODS, SCHEMA, MLP, SklearnTarget, attack_all, success_table, summarize
from paperlib.mutual_attack.experiment import Setup, build

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def setup():
    from sklearn.neighbors import KNeighborsClassifier

    clip, _ = zoo.create("tiny_clip", "smoke")
    train, test = digits("train", 16, channels=3), digits("test", 16, channels=3)
    x, y = test.x[:24], test.y[:24]
    torch.manual_seed(0)
    knn = SklearnTarget(KNeighborsClassifier(1)).fit(x, y)  # right on every clean test image
    return Setup(clip, MLP().eval(), {"1-NN": knn}, train.x[:64], train.y[:64], x, y)


@pytest.fixture(scope="module")
def params():
    return SCHEMA.resolve(scale="smoke", rounds=1, steps_attack=1, steps_defense=1, pgd_steps=2)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_every_method_in_budget_and_zero_budget_changes_nothing(setup, params, eps):
    adversarial = attack_all(setup, params, eps, seed=0, device=torch.device("cpu"))
    assert set(adversarial) == set(METHODS)
    for m, xa in adversarial.items():
        assert xa.shape == setup.x_test.shape
        assert (xa - setup.x_test).abs().max() <= eps + 1e-6, m
        assert xa.min() >= 0 and xa.max() <= 1, m
    table = success_table(setup.targets, setup.x_test, setup.y_test, adversarial)
    for m in METHODS:
        assert 0.0 <= table[m]["1-NN"] <= 1.0
        if eps == 0.0:
            assert table[m]["1-NN"] == 0.0


def test_summary_is_mean_and_spread_over_targets():
    per_seed = {"a": [{"t1": 0.2, "t2": 0.6}, {"t1": 0.4, "t2": 0.4}]}
    s = summarize(per_seed)["a"]
    assert s["means"] == pytest.approx([0.4, 0.4]) and s["spreads"] == pytest.approx([0.2, 0.0])
    assert s["worsts"] == [0.2, 0.4]
    assert s["mean"] == pytest.approx(0.4) and s["spread"] == pytest.approx(0.1) and s["worst"] == pytest.approx(0.3)


def test_miniature_rejects_timm_names_without_data_root():
    with pytest.raises(ValueError, match="targets: the miniature's targets"):
        build(SCHEMA.resolve(scale="smoke", targets=["resnet50"]))


def test_warm_caches_the_surrogate_and_the_trained_targets():
    from paperlib.mutual_attack.warm import warm

    assert list(warm("smoke")) == ["surrogate CNN", "mlp target", "vit target", "resnet target"]
