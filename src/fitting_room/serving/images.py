"""Images as the API ships them: uint8 arrays -> PNG bytes -> base64 text."""

from __future__ import annotations

import base64
import io

import numpy as np


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of one ``(H, W, C)`` or ``(H, W)`` uint8 image (C = 1 grey, 3 RGB)."""
    from PIL import Image

    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


def png_base64(image: np.ndarray) -> str:
    """Base64 (ASCII) of the PNG of one uint8 image, ready for a ``data:image/png`` URL."""
    return base64.b64encode(encode_png(image)).decode("ascii")


def decode_png_base64(text: str) -> np.ndarray:
    """The uint8 pixels of a base64 PNG (the inverse of :func:`png_base64`, used by checks)."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(text, validate=True))) as img:
        return np.asarray(img)
