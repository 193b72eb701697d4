"""``/recommend`` and ``/fit`` over HTTP: the shopping guide's answers, previews, and every refusal."""

from __future__ import annotations

import httpx
import pytest

from fitting_room.serving.images import decode_png_base64

pytestmark = pytest.mark.slow

SHOPPER = {"height_cm": 168, "weight_kg": 62, "bust_band_cm": 86.4, "cup": "b", "occasion": "wedding"}


def post(server, path, body):
    return httpx.post(f"{server.url}{path}", json=body, timeout=30)


def test_recommend_returns_k_items_each_with_a_preview_size_and_fit_probabilities(server):
    response = post(server, "/recommend", {"profile": SHOPPER, "k": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["k"] == 5 and len(body["items"]) == 5
    assert len({item["item_id"] for item in body["items"]}) == 5
    for item in body["items"]:
        assert decode_png_base64(item["preview"]).shape == (28, 28)
        assert sum(item["fit"].values()) == pytest.approx(1.0, abs=1e-6)
        assert item["advised_size"] is not None
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_a_shopper_without_history_is_a_cold_start_and_a_known_history_is_not(server):
    assert post(server, "/recommend", {"profile": SHOPPER, "k": 3}).json()["cold_start"] is True
    warm = post(server, "/recommend", {"profile": {**SHOPPER, "history": ["i1", "i2"]}, "k": 3}).json()
    assert warm["cold_start"] is False
    assert not {"i1", "i2"} & {item["item_id"] for item in warm["items"]}  # never re-recommend a rental


def test_an_empty_profile_still_gets_recommendations(server):
    assert len(post(server, "/recommend", {"profile": {}, "k": 2}).json()["items"]) == 2


def test_an_item_always_shows_the_same_preview(server):
    first = post(server, "/recommend", {"profile": SHOPPER, "k": 4}).json()["items"]
    again = post(server, "/recommend", {"profile": SHOPPER, "k": 4}).json()["items"]
    assert [i["preview"] for i in first] == [i["preview"] for i in again]
    seed, item = first[0]["preview_seed"], first[0]
    assert isinstance(seed, int) and item["generator_class"]


def test_fit_scores_each_asked_size_and_advises_the_one_most_likely_to_fit(server):
    body = post(server, "/fit", {"profile": SHOPPER, "item_id": "i3", "sizes": [2, 8, 14]}).json()
    assert [row["size"] for row in body["sizes"]] == [2, 8, 14]
    p_fit = [row["probabilities"]["fit"] for row in body["sizes"]]
    for row in body["sizes"]:
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    assert p_fit[[2, 8, 14].index(body["advised_size"])] == max(p_fit)  # ties: nearest expected size


def test_a_larger_size_is_never_more_likely_to_be_small(server):
    sizes = [0, 4, 8, 12, 16, 20]
    body = post(server, "/fit", {"profile": SHOPPER, "item_id": "i5", "sizes": sizes}).json()
    p_small = [row["probabilities"]["small"] for row in body["sizes"]]
    assert all(b <= a + 1e-9 for a, b in zip(p_small, p_small[1:], strict=False))


def test_fit_of_an_unknown_item_takes_the_cold_start_path(server):
    response = post(server, "/fit", {"profile": SHOPPER, "item_id": "never-seen"})
    assert response.status_code == 200, response.text
    assert response.json()["advised_size"] is not None


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/recommend", {"profile": {"height_cm": 300}, "k": 3}, "height_cm"),  # a 3 m shopper
        ("/recommend", {"profile": {"weight_kg": -5}, "k": 3}, "weight_kg"),
        ("/recommend", {"profile": {"cup": "zz"}, "k": 3}, "cup"),
        ("/recommend", {"profile": {"shoe": 38}, "k": 3}, "shoe"),
        ("/recommend", {"profile": {"height_cm": "tall"}, "k": 3}, "height_cm"),
        ("/recommend", {"profile": SHOPPER, "k": 13}, "k"),  # above max_k (12 in this server)
        ("/recommend", {"profile": {"history": ["i1"] * 6}}, "profile.history"),  # above max_history
        ("/recommend", {"k": 3}, "profile"),
        ("/fit", {"profile": SHOPPER, "item_id": "i1", "sizes": [1, 2, 3, 4, 5, 6, 7]}, "sizes"),
        ("/fit", {"profile": SHOPPER, "item_id": "i1", "sizes": [-2]}, "sizes"),
        ("/fit", {"profile": SHOPPER, "item_id": ""}, "item_id"),
        ("/fit", {"profile": {"age_years": 400}, "item_id": "i1"}, "age_years"),
    ],
)
def test_impossible_or_malformed_shopper_requests_get_400_naming_the_field(server, path, body, field):
    response = post(server, path, body)
    assert response.status_code == 400, response.text
    assert field in response.text
    assert post(server, "/recommend", {"profile": SHOPPER, "k": 1}).status_code == 200  # still serving
