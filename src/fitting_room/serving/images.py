"""Images as the API ships them: uint8 arrays -> PNG bytes -> base64 text.

The encoder writes the PNG itself (signature, IHDR, one zlib IDAT, IEND; filter 0 on every
row): for the service's small images that is a few microseconds of NumPy and zlib, where
Pillow's plugin machinery costs ~40 us an image -- CPU every ``/generate`` request pays while
it holds the interpreter. Decoding (for checks) goes through Pillow, so every test that reads
an image back also checks the encoder against an independent PNG reader.
"""

from __future__ import annotations

import base64
import io

import numpy as np

# the encoder lives below serving, so the try-on view (fitting_room.tryon) can use it too
from fitting_room.png import PNG_SIGNATURE, encode_png

__all__ = ["PNG_SIGNATURE", "decode_png_base64", "encode_png", "png_base64"]


def png_base64(image: np.ndarray) -> str:
    """Base64 (ASCII) of the PNG of one uint8 image, ready for a ``data:image/png`` URL."""
    return base64.b64encode(encode_png(image)).decode("ascii")


def decode_png_base64(text: str) -> np.ndarray:
    """The uint8 pixels of a base64 PNG (the inverse of :func:`png_base64`, used by checks)."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(text, validate=True))) as img:
        return np.asarray(img)
