"""Photos that installed packages ship (no downloads): backgrounds, textures and style images.

Credits and licences are listed in ``book/credits.md``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

#: scikit-image's bundled photos that load offline (others need a download).
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "horse")


@lru_cache(maxsize=1)
def photos() -> dict[str, torch.Tensor]:
    """Every bundled photo as ``(3, H, W)`` float in [0, 1] (grey ones repeated to RGB)."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    out = {}
    sample = load_sample_images()
    for name, image in zip(sample.filenames, sample.images):
        out["sklearn-" + name.rsplit("/", 1)[-1].split(".")[0]] = _to_tensor(image)
    for name in SKIMAGE_PHOTOS:
        out["skimage-" + name] = _to_tensor(getattr(skimage.data, name)())
    return out


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    image = np.asarray(image, dtype=np.float32)
    if image.max() > 1.0:
        image = image / 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return torch.from_numpy(image[..., :3].copy()).permute(2, 0, 1).contiguous()


def random_patches(n: int, size: int, generator: torch.Generator, scale: tuple[float, float] = (0.05, 0.2),
                   names: tuple[str, ...] | None = None) -> torch.Tensor:
    """``n`` random square crops of the bundled photos (side a random fraction of the photo's short
    side within ``scale``), resized to ``size``: ``(n, 3, size, size)``."""
    import torch.nn.functional as F

    pool = photos()
    keys = list(names or pool)
    out = torch.empty(n, 3, size, size)
    for i in range(n):
        photo = pool[keys[int(torch.randint(len(keys), (1,), generator=generator))]]
        _, h, w = photo.shape
        frac = scale[0] + (scale[1] - scale[0]) * torch.rand(1, generator=generator).item()
        side = max(4, int(min(h, w) * frac))
        top = int(torch.randint(h - side + 1, (1,), generator=generator))
        left = int(torch.randint(w - side + 1, (1,), generator=generator))
        crop = photo[:, top:top + side, left:left + side].unsqueeze(0)
        out[i] = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    return out.clamp(0, 1)
