import numpy as np
import pytest
import torch

from paperlib import data


def test_split_is_disjoint_complete_and_stratified():
    idx = data.split_indices()
    sets = [set(idx[s]) for s in ("train", "val", "test")]
    assert sum(map(len, sets)) == 1797 and len(set.union(*sets)) == 1797
    y = data.digits("test").y
    assert torch.bincount(y, minlength=10).min() >= 35


def test_digits_shapes_and_range():
    d = data.digits("train", size=16, channels=3)
    assert d.x.shape == (1200, 3, 16, 16) and d.x.min() >= 0 and d.x.max() <= 1


@pytest.mark.parametrize("kwargs, fragment", [({"split": "dev"}, "split"), ({"size": 4}, "size"),
                                              ({"channels": 2}, "channels")])
def test_digits_bad_input(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        data.digits(**kwargs)


def test_benchmark_is_deterministic_and_domains_differ():
    a = data.dg_benchmark(16)
    from paperlib.data.domains import _benchmark
    _benchmark.cache_clear()
    b = data.dg_benchmark(16)
    assert set(a) == set(data.DOMAINS) and len(data.TARGETS) >= 4
    for name in a:
        assert a[name].data_digest == b[name].data_digest
        assert a[name].x.shape[1:] == (3, 16, 16)
    source = a["source"].x.flatten().sort().values
    for name in data.TARGETS:
        x = a[name].x.flatten().sort().values
        q = torch.linspace(0, 1, 20000)
        # Wasserstein-1 distance between the pixel-value distributions of target and source
        w1 = (x[(q * (len(x) - 1)).long()] - source[(q * (len(source) - 1)).long()]).abs().mean()
        assert w1 > 0.03, name


def test_recipes_are_hashed_and_distinct():
    digests = {r.digest for r in data.RECIPES.values()}
    assert len(digests) == len(data.RECIPES)


def test_targets_come_from_the_test_split_only():
    test_labels = data.digits("test").y
    for name in ("source", "photo", "thick_lowres", "noise_blur", "colored"):
        assert torch.equal(data.dg_benchmark(16)[name].y, test_labels)


def test_scenes():
    x, y, boxes = data.textured_canvas("test", canvas=32, digit_size=10, seed=1, n=4)
    assert x.shape == (4, 3, 32, 32) and boxes.shape == (4, 4)
    x2, _, _ = data.textured_canvas("test", canvas=32, digit_size=10, seed=1, n=4)
    assert torch.equal(x, x2)
    video, labels = data.moving_digits(n=2, frames=5, size=20, digit_size=8, seed=0)
    assert video.shape == (2, 5, 1, 20, 20) and not torch.equal(video[:, 0], video[:, -1])
    assert data.style_images(3, 16).shape == (3, 3, 16, 16)
    with pytest.raises(ValueError, match="digit_size"):
        data.textured_canvas(canvas=8, digit_size=10)


def _make_folder(root, classes=("cat", "dog"), per_class=2):
    from PIL import Image

    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((12, 12, 3), 40 * i, dtype=np.uint8)).save(root / c / f"{i}.png")


def test_image_folder_loader(tmp_path):
    _make_folder(tmp_path)
    ds = data.image_folder(tmp_path, size=8)
    assert ds.classes == ["cat", "dog"] and len(ds) == 4 and ds[0][0].shape == (3, 8, 8)


def test_image_folder_errors(tmp_path):
    with pytest.raises(data.DataFolderError, match="data_root: .* does not exist"):
        data.check_image_folder(tmp_path / "missing")
    with pytest.raises(data.DataFolderError, match="no class sub-folders"):
        data.check_image_folder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(data.DataFolderError, match="without images"):
        data.check_image_folder(tmp_path)
