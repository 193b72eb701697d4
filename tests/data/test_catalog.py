"""A retailer catalog becomes letterboxed image splits; bad rows are quarantined, never dropped."""

from __future__ import annotations

import numpy as np
import pytest
from data_builders import garment_photo, make_catalog
from PIL import Image

from fitting_room.config.data import CatalogConfig, ImagesConfig
from fitting_room.data.catalog import load_catalog, load_image
from fitting_room.data.images import read_images_npz
from fitting_room.data.ingest import ingest_images
from fitting_room.errors import DataError


def catalog_rows(n_per_class: int = 4, categories=("dress", "shirt")) -> tuple[list[dict], dict]:
    rows, images = [], {}
    for c in categories:
        for i in range(n_per_class):
            name = f"img/{c}-{i}.png" if i % 2 else f"img/{c}-{i}.jpg"
            images[name] = garment_photo("RGB" if i % 2 else "L", size=(64, 64 + 8 * i))
            rows.append({"item_id": f"{c}-{i}", "image": name, "category": c, "colour": "navy"})
    return rows, images


def images_config(folder, out_dir, channels=3, resolution=32, **catalog) -> ImagesConfig:
    return ImagesConfig(
        source="catalog",
        resolution=resolution,
        channels=channels,
        out_dir=out_dir,
        catalog=CatalogConfig(dir=folder, **catalog),
    )


@pytest.mark.parametrize("channels", [1, 3])
def test_png_and_jpeg_in_rgb_and_gray_become_square_uint8(tmp_path, channels):
    rows, images = catalog_rows()
    folder = make_catalog(tmp_path / "shop", rows, images)
    data = load_catalog(CatalogConfig(dir=folder), resolution=32, channels=channels, seed=0)
    assert data.train.images.shape[1:] == (32, 32, channels)
    assert data.train.images.dtype == np.uint8
    assert len(data.train) + len(data.test) == 8
    assert data.quarantined == ()


def test_labels_follow_sorted_category_names_by_default(tmp_path):
    rows, images = catalog_rows(categories=("shirt", "dress"))
    data = load_catalog(CatalogConfig(dir=make_catalog(tmp_path / "shop", rows, images)), 16, 1, seed=0)
    assert data.train.class_names == ("dress", "shirt")
    assert all(
        i.startswith(data.train.class_names[k])
        for i, k in zip(data.train.item_ids, data.train.labels, strict=True)
    )


def test_class_names_fix_the_label_order_and_quarantine_unknown_categories(tmp_path):
    rows, images = catalog_rows(n_per_class=10, categories=("shirt", "dress", "hat"))
    cfg = CatalogConfig(dir=make_catalog(tmp_path / "shop", rows, images), class_names=["shirt", "dress"],
                        max_quarantine_share=0.5)  # fmt: skip
    data = load_catalog(cfg, 16, 1, seed=0)
    assert data.train.class_names == ("shirt", "dress")
    assert {q.reason for q in data.quarantined} == {"category 'hat' not in data.images.catalog.class_names"}


def test_every_category_is_represented_in_the_test_split(tmp_path):
    rows, images = catalog_rows(n_per_class=10)
    cfg = CatalogConfig(dir=make_catalog(tmp_path / "shop", rows, images), test_fraction=0.2)
    data = load_catalog(cfg, 16, 1, seed=0)
    assert data.test.class_counts() == {"dress": 2, "shirt": 2}
    assert not set(data.train.item_ids) & set(data.test.item_ids)


def test_letterbox_keeps_the_whole_garment_of_a_tall_photo():
    # a 40x80 photo of a black bar spanning its full height: a center crop would cut the
    # bar's ends off, the letterbox keeps them and pads the sides with the white border
    img = Image.new("L", (40, 80), 255)
    img.paste(0, (15, 0, 25, 80))
    out = load_image_from(img, resolution=20)
    assert out[0, 10, 0] < 64 and out[-1, 10, 0] < 64  # bar reaches top and bottom rows
    assert out[10, 0, 0] > 192 and out[10, -1, 0] > 192  # padding is white, like the border


def load_image_from(img, resolution):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.png"
        img.save(path)
        return load_image(path, resolution, channels=1, max_aspect_ratio=4)


def test_transparent_background_is_flattened_onto_white(tmp_path):
    img = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    img.paste((200, 0, 0, 255), (8, 8, 24, 24))
    img.save(tmp_path / "cutout.png")
    out = load_image(tmp_path / "cutout.png", 32, channels=3, max_aspect_ratio=4)
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[16, 16]) == (200, 0, 0)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (b"this is not a png", "undecodable image"),
        (Image.new("I;16", (32, 32)), "unsupported image mode 'I;16'"),
        (Image.new("RGB", (200, 20)), "aspect ratio 200x20 exceeds 4:1"),
    ],
    ids=["garbage-bytes", "16-bit-mode", "extreme-aspect"],
)
def test_unusable_image_is_quarantined_with_its_reason(tmp_path, image, reason):
    rows, images = catalog_rows(n_per_class=20)
    rows.append({"item_id": "odd", "image": "img/odd.png", "category": "dress", "colour": "red"})
    folder = make_catalog(tmp_path / "shop", rows, {**images, "img/odd.png": image})
    data = load_catalog(CatalogConfig(dir=folder), 16, 3, seed=0)
    assert [(q.item_id, q.file) for q in data.quarantined] == [("odd", "img/odd.png")]
    assert data.quarantined[0].reason.startswith(reason)
    assert "odd" not in set(data.train.item_ids) | set(data.test.item_ids)


def test_missing_file_and_missing_category_are_quarantined(tmp_path):
    rows, images = catalog_rows(n_per_class=20)
    rows += [
        {"item_id": "ghost", "image": "img/ghost.png", "category": "dress", "colour": ""},
        {"item_id": "nocat", "image": "img/dress-1.png", "category": "", "colour": ""},
    ]
    data = load_catalog(CatalogConfig(dir=make_catalog(tmp_path / "shop", rows, images)), 16, 1, seed=0)
    assert {q.item_id: q.reason for q in data.quarantined} == {
        "ghost": "missing file",
        "nocat": "missing category",
    }


def test_duplicate_item_and_path_outside_the_folder_are_quarantined(tmp_path):
    rows, images = catalog_rows(n_per_class=20)
    garment_photo().save(tmp_path / "outside.png")
    rows += [
        {"item_id": "dress-1", "image": "img/dress-3.png", "category": "dress", "colour": ""},
        {"item_id": "escape", "image": "../outside.png", "category": "dress", "colour": ""},
    ]
    data = load_catalog(CatalogConfig(dir=make_catalog(tmp_path / "shop", rows, images)), 16, 1, seed=0)
    assert [q.reason for q in data.quarantined] == [
        "duplicate item_id 'dress-1' (first at row 1)",
        "image path outside the catalog folder",
    ]


def test_ingest_writes_the_quarantine_report_next_to_the_outputs(tmp_path):
    rows, images = catalog_rows(n_per_class=20)
    rows.append({"item_id": "odd", "image": "img/odd.png", "category": "dress", "colour": "red"})
    folder = make_catalog(tmp_path / "shop", rows, {**images, "img/odd.png": b"\x89PNG broken"})
    result = ingest_images(images_config(folder, tmp_path / "out"), seed=0)
    report = (tmp_path / "out" / "quarantine.csv").read_text().splitlines()
    assert report[0] == "row,item_id,file,reason"
    assert report[1].startswith("40,odd,img/odd.png,undecodable image")
    assert result.quarantined == 1
    assert read_images_npz(tmp_path / "out" / "train.npz").images.shape[1:] == (32, 32, 3)


def test_quarantine_above_threshold_fails_and_keeps_previous_outputs(tmp_path):
    rows, images = catalog_rows(n_per_class=5)
    folder = make_catalog(tmp_path / "shop", rows, images)
    cfg = images_config(folder, tmp_path / "out", max_quarantine_share=0.1)
    ingest_images(cfg, seed=0)
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}

    (folder / "img" / "dress-0.jpg").write_bytes(b"corrupt")
    (folder / "img" / "shirt-0.jpg").write_bytes(b"corrupt")
    with pytest.raises(DataError, match=r"2 of 10 rows quarantined \(20\.0%.*max_quarantine_share=10\.0%"):
        ingest_images(cfg, seed=0)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_quarantine_above_threshold_on_first_run_leaves_no_outputs(tmp_path):
    rows, images = catalog_rows(n_per_class=2)
    images["img/dress-0.jpg"] = b"corrupt"
    cfg = images_config(make_catalog(tmp_path / "shop", rows, images), tmp_path / "out")
    with pytest.raises(DataError, match="img/dress-0.jpg: undecodable image"):
        ingest_images(cfg, seed=0)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert [p.name for p in tmp_path.iterdir()] == ["shop"]  # no staging folder left behind


def test_catalog_without_a_category_column_names_the_file_and_column(tmp_path):
    folder = make_catalog(tmp_path / "shop", [{"item_id": "a", "image": "a.png"}])
    with pytest.raises(DataError, match=r"catalog\.csv: missing required column\(s\) \['category'\]"):
        load_catalog(CatalogConfig(dir=folder), 16, 1, seed=0)
