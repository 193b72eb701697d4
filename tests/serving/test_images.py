"""The service's own PNG encoder, read back by an independent decoder (Pillow)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fitting_room.serving.images import decode_png_base64, encode_png, png_base64


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    channels=st.sampled_from([None, 1, 3, 4]),
    seed=st.integers(0, 2**32 - 1),
)
def test_pillow_reads_back_exactly_the_pixels_written(height, width, channels, seed):
    shape = (height, width) if channels is None else (height, width, channels)
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(image)
    with Image.open(io.BytesIO(data)) as img:
        img.verify()  # chunk CRCs and structure
    pixels = decode_png_base64(base64.b64encode(data).decode("ascii"))
    expected = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    np.testing.assert_array_equal(pixels, expected)


def test_mode_and_size_follow_the_channels():
    for channels, mode in ((1, "L"), (3, "RGB"), (4, "RGBA")):
        with Image.open(io.BytesIO(encode_png(np.zeros((5, 7, channels), np.uint8)))) as img:
            assert (img.mode, img.size) == (mode, (7, 5))


def test_base64_is_ascii_png():
    text = png_base64(np.full((28, 28, 1), 255, np.uint8))
    assert base64.b64decode(text).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.zeros((4, 4), np.float32), "uint8"),
        ([[0, 1], [2, 3]], "uint8"),
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((4,), np.uint8), "shape"),
        (np.zeros((0, 4), np.uint8), "shape"),
    ],
)
def test_rejects_what_is_not_an_image(bad, words):
    with pytest.raises(ValueError, match=words):
        encode_png(bad)
