"""``/try-on`` over HTTP: a garment drawn on the shopper's figure size by size, with the advisor's notes."""

from __future__ import annotations

import httpx
import pytest

from fitting_room.serving.images import decode_png_base64

pytestmark = pytest.mark.slow

SHOPPER = {"height_cm": 168, "weight_kg": 62, "bust_band_cm": 86.4, "cup": "b", "body_type": "pear"}
THRESHOLD = 0.3  # tryon_mark_threshold of the test server (conftest.LIMITS)


def post(server, body, path="/try-on"):
    return httpx.post(f"{server.url}{path}", json=body, timeout=60)


@pytest.fixture(scope="module")
def item_view(server) -> dict:
    response = post(server, {"profile": SHOPPER, "item_id": "i3"})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_item_is_drawn_at_the_advised_size_and_one_step_down_and_up(item_view, server):
    sizes = [view["size"] for view in item_view["sizes"]]
    assert item_view["advised_size"] in sizes and sizes == sorted(sizes) and 2 <= len(sizes) <= 3
    usual = [
        row["size"] for row in post(server, {"profile": SHOPPER, "item_id": "i3"}, "/fit").json()["sizes"]
    ]
    at = usual.index(item_view["advised_size"])
    assert sizes == usual[max(at - 1, 0) : at + 2]  # neighbours on the garment's own size grid
    for view in item_view["sizes"]:
        assert decode_png_base64(view["image"]).shape == (288, 192, 3)
        assert f"size {view['size']:g}" in view["alt"] and view["note"] in view["alt"]
    assert "not a photo" in item_view["disclaimer"]
    assert set(item_view["imputed"]) == {"bust_cm", "waist_cm", "hips_cm"}  # the rest was given


def test_the_probabilities_are_the_advisors_own(item_view, server):
    sizes = [view["size"] for view in item_view["sizes"]]
    fit = post(server, {"profile": SHOPPER, "item_id": "i3", "sizes": sizes}, "/fit").json()
    for view, row in zip(item_view["sizes"], fit["sizes"], strict=True):
        assert view["probabilities"] == pytest.approx(row["probabilities"])
        p = view["probabilities"]
        assert f"P(small) {p['small']:.0%}" in view["note"] and f"P(large) {p['large']:.0%}" in view["note"]


def test_a_size_is_marked_snug_exactly_when_the_advisor_says_small_above_the_threshold(server):
    body = post(
        server, {"profile": SHOPPER, "category": "dress", "seed": 5, "sizes": [0, 4, 8, 12, 20]}
    ).json()
    for view in body["sizes"]:
        kinds = {mark["kind"] for mark in view["marks"]}
        assert ("snug" in kinds) == (view["probabilities"]["small"] > THRESHOLD)
        assert ("loose" in kinds) == (view["probabilities"]["large"] > THRESHOLD)


def test_a_category_and_seed_draw_the_garment_generate_draws(server):
    body = post(server, {"profile": SHOPPER, "category": "trouser", "seed": 9, "sizes": [8, 4]}).json()
    generated = post(server, {"category": "trouser", "n": 1, "seed": 9}, "/generate").json()
    assert body["seed"] == generated["seeds"][0] and body["generator_class"] == "trouser"
    assert [view["size"] for view in body["sizes"]] == [8, 4]  # asked sizes, in the order asked
    assert body["sizes"][0]["image"] != body["sizes"][1]["image"]


def test_the_same_request_draws_the_same_pngs(server, item_view):
    again = post(server, {"profile": SHOPPER, "item_id": "i3"}).json()
    assert [v["image"] for v in again["sizes"]] == [v["image"] for v in item_view["sizes"]]


def test_photo_style_previews_are_cut_out_on_a_light_background(server):
    items = post(server, {"profile": SHOPPER, "k": 2, "style": "photo"}, "/recommend").json()["items"]
    images = post(server, {"category": "dress", "n": 2, "style": "photo"}, "/generate").json()["images"]
    for b64 in [item["preview"] for item in items] + images:
        pixels = decode_png_base64(b64)
        assert pixels.shape == (128, 128, 3) and pixels[0, 0].min() > 200  # not a black square
    raw = post(server, {"profile": SHOPPER, "k": 2}, "/recommend").json()["items"]
    assert decode_png_base64(raw[0]["preview"]).shape == (28, 28)  # the default is unchanged


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"profile": {"height_cm": 300}, "item_id": "i1"}, 400, "height_cm"),
        ({"profile": {"hips_cm": 5}, "item_id": "i1"}, 400, "hips_cm"),
        ({"profile": SHOPPER, "item_id": "never-seen"}, 404, "item_id"),
        ({"profile": SHOPPER, "item_id": "i1", "sizes": [2, 4, 6, 8, 10, 12]}, 400, "sizes"),  # > 5
        ({"profile": SHOPPER, "item_id": "i1", "sizes": [-2]}, 400, "sizes"),
        ({"profile": SHOPPER}, 400, "item_id"),  # neither an item nor a category
        ({"profile": SHOPPER, "item_id": "i1", "category": "dress"}, 400, "item_id"),
        ({"profile": SHOPPER, "category": "bag"}, 400, "category"),  # not worn on the body
        ({"profile": SHOPPER, "category": "spacesuit"}, 400, "category"),
        ({"item_id": "i1"}, 400, "profile"),
    ],
)
def test_impossible_try_on_requests_get_a_4xx_naming_the_field(server, body, status, field):
    response = post(server, body)
    assert response.status_code == status, response.text
    assert field in response.text
    assert post(server, {"profile": SHOPPER, "item_id": "i1"}).status_code == 200  # still serving


def test_the_openapi_page_lists_try_on_with_its_bounds(server):
    spec = httpx.get(f"{server.url}/docs.json", timeout=30).json()
    assert "/try-on" in spec["paths"]
    assert '"maxItems": 5' in httpx.get(f"{server.url}/docs.json", timeout=30).text.replace(":5", ": 5")
