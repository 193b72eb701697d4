"""PNG encoding time: the project's encoder (``fitting_room.png``) vs Pillow and OpenCV.

The service encodes every image it answers with: 28x28 greyscale garments (``/generate``) and
192x288 RGB try-on views. Times each encoder on the same images in one run (median of
``--repeats`` rounds of ``--number`` calls) and checks all three decode to the same pixels.
Prints one JSON object.

    .venv/bin/python benchmarks/png_encode.py
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time

import numpy as np


def _time(fn, image: np.ndarray, number: int, repeats: int) -> float:
    """Median microseconds per call."""
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn(image)
        rounds.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(rounds)


def main() -> None:
    import cv2
    from PIL import Image

    from fitting_room.png import encode_png

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    opts = parser.parse_args()

    rng = np.random.default_rng(0)
    # a drawing like the try-on view: light background, filled anti-aliased shapes, a smooth patch
    drawing = np.full((288, 192, 3), 244, np.uint8)
    body = np.array([[70, 20], [122, 20], [140, 120], [130, 280], [62, 280], [52, 120]], np.int32)
    cv2.fillPoly(drawing, [body], (222, 196, 170), lineType=cv2.LINE_AA)
    patch = cv2.GaussianBlur(rng.integers(0, 256, (120, 80, 3), dtype=np.uint8), (9, 9), 3)
    drawing[60:180, 56:136] = patch
    cv2.polylines(drawing, [body], True, (40, 40, 40), 2, lineType=cv2.LINE_AA)
    images = {
        "grey_28x28": rng.integers(0, 256, (28, 28, 1), dtype=np.uint8),  # a /generate garment
        "rgb_192x288": drawing,
    }

    def pillow(image: np.ndarray) -> bytes:
        buf = io.BytesIO()
        pixels = image[..., 0] if image.shape[-1] == 1 else image
        Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)  # as fast as Pillow goes
        return buf.getvalue()

    def opencv(image: np.ndarray) -> bytes:
        bgr = image if image.shape[-1] == 1 else image[..., ::-1]
        return cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()

    encoders = {"fitting_room": encode_png, "pillow": pillow, "opencv": opencv}
    out: dict = {"number": opts.number, "repeats": opts.repeats}
    for name, image in images.items():
        row: dict = {}
        for enc_name, enc in encoders.items():
            decoded = np.asarray(Image.open(io.BytesIO(enc(image))))
            same = np.array_equal(decoded.reshape(image.shape), image)
            row[enc_name] = {
                "us": round(_time(enc, image, opts.number, opts.repeats), 1),
                "bytes": len(enc(image)),
                "same_pixels": bool(same),
            }
        row["speedup_vs_pillow"] = round(row["pillow"]["us"] / row["fitting_room"]["us"], 2)
        out[name] = row
    print(json.dumps(out))


if __name__ == "__main__":
    main()
