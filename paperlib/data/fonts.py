"""Digits rendered from the TrueType fonts that matplotlib ships (DejaVu, STIX, Computer Modern)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
              "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf", "STIXGeneral.ttf", "cmr10.ttf", "cmss10.ttf")


def font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@lru_cache(maxsize=None)
def glyph(font_file: str, digit: int, px: int = 64) -> torch.Tensor:
    """The digit drawn white on black, tightly cropped and centred in a square: ``(px, px)`` in [0, 1]."""
    from PIL import Image, ImageDraw, ImageFont

    path = font_dir() / font_file
    if not path.is_file():
        raise FileNotFoundError(f"font {font_file!r} is not bundled with this matplotlib ({path})")
    font = ImageFont.truetype(str(path), size=px)
    canvas = Image.new("L", (2 * px, 2 * px), 0)
    ImageDraw.Draw(canvas).text((px // 2, px // 4), str(digit), fill=255, font=font)
    array = np.asarray(canvas, dtype=np.float32) / 255.0
    rows, cols = np.nonzero(array > 0.1)
    crop = array[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    side = int(max(crop.shape) * 1.3)  # margin like the 8x8 digits, which nearly fill their box
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    image = Image.fromarray((square * 255).astype(np.uint8)).resize((px, px), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
