"""The HTTP contract of the running service: every endpoint, every error case, no 5xx."""

from __future__ import annotations

import concurrent.futures

import httpx
import numpy as np
import pytest

from fitting_room.serving.images import decode_png_base64

pytestmark = pytest.mark.slow


def post(server, path, body=None, **kwargs):
    return httpx.post(f"{server.url}{path}", json=body, timeout=30, **kwargs)


def test_livez_and_readyz_answer_200_once_models_are_loaded(server):
    assert httpx.get(f"{server.url}/livez").status_code == 200
    assert httpx.get(f"{server.url}/readyz").status_code == 200


def generate_requests(server) -> dict[str, float]:
    """Requests to /generate counted by the service's /metrics, per HTTP status."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{server.url}/metrics").text):
        for sample in family.samples:
            if sample.name.endswith("request_total") and sample.labels.get("endpoint") == "/generate":
                code = sample.labels["http_response_code"]
                counts[code] = counts.get(code, 0.0) + sample.value
    return counts


def test_metrics_count_each_endpoints_answers_and_rejections_separately(server):
    before = generate_requests(server)
    post(server, "/generate", {"category": "dress"})
    post(server, "/generate", {"category": "spacesuit"})
    post(server, "/generate", {"category": "spacesuit"})
    after = generate_requests(server)
    grew = {code: after[code] - before.get(code, 0.0) for code in after if after[code] != before.get(code)}
    assert grew == {"200": 1.0, "400": 2.0}  # an operator sees the share of rejected requests


def test_generate_returns_n_png_images_of_the_named_category(server):
    response = post(server, "/generate", {"category": "Dress", "n": 3, "seed": 11})
    assert response.status_code == 200
    body = response.json()
    assert body["category"] == "dress" and body["category_index"] == 3
    pixels = [decode_png_base64(b64) for b64 in body["images"]]
    assert len(pixels) == 3 and all(p.shape == (28, 28) and p.dtype == np.uint8 for p in pixels)


def test_requests_are_not_traced_by_default(server):
    # serving.tracing false: the OpenTelemetry middleware passes requests through, so BentoML
    # sets no request id (it takes it from the span)
    response = post(server, "/generate", {"category": "dress"})
    assert response.status_code == 200
    assert "x-bentoml-request-id" not in response.headers
    assert response.headers["server"].startswith("BentoML")


def test_generate_accepts_a_category_index(server):
    assert post(server, "/generate", {"category": 9}).json()["category"] == "ankle boot"


def test_same_seed_gives_the_same_images_whatever_else_is_in_the_batch(server):
    def one(seed):
        return post(server, "/generate", {"category": "coat", "n": 2, "seed": seed}).json()["images"]

    alone = one(5)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        crowded = list(pool.map(one, [5, 6, 7, 5, 8, 9, 5, 10]))
    assert crowded[0] == alone and crowded[3] == alone and crowded[6] == alone
    assert crowded[1] != alone


def test_interpolation_walks_from_one_seed_to_the_other(server):
    path = post(server, "/generate", {"category": "bag", "n": 4, "seed": 1, "interpolate_to": 2}).json()
    assert path["steps"] == [0.0, pytest.approx(1 / 3), pytest.approx(2 / 3), 1.0]
    first, last = (decode_png_base64(path["images"][i]).astype(int) for i in (0, 3))
    middle = decode_png_base64(path["images"][1]).astype(int)
    assert not np.array_equal(first, last)
    assert np.abs(middle - first).sum() < np.abs(last - first).sum()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "dress", "n": 9}, "n"),  # above the bound (8 in this server)
        ({"category": "dress", "n": 0}, "n"),
        ({"category": "dress", "n": "three"}, "n"),
        ({"category": "dress", "seed": -1}, "seed"),
        ({"n": 1}, "category"),
        ({"category": "dress", "colour": "red"}, "colour"),
    ],
)
def test_invalid_generate_requests_get_400_naming_the_field(server, body, field):
    response = post(server, "/generate", body)
    assert response.status_code == 400
    assert field in response.text


@pytest.mark.parametrize("category", ["spacesuit", 10, -1])
def test_unknown_category_gets_400_listing_the_known_ones(server, category):
    response = post(server, "/generate", {"category": category})
    assert response.status_code == 400
    assert response.json()["field"] == "category"


def test_malformed_json_gets_400(server):
    headers = {"Content-Type": "application/json"}
    response = httpx.post(f"{server.url}/generate", content=b'{"category": "dress",', headers=headers)
    assert response.status_code == 400


def test_oversize_body_gets_413_and_the_service_keeps_serving(server):
    huge = {"category": "dress", "pad": "x" * 10_000}
    assert post(server, "/generate", huge).status_code == 413

    def chunks():
        yield b'{"category": "dress", "pad": "'
        for _ in range(20):
            yield b"x" * 1000
        yield b'"}'

    chunked = httpx.post(
        f"{server.url}/generate", content=chunks(), headers={"Content-Type": "application/json"}, timeout=30
    )
    assert chunked.status_code == 413
    assert post(server, "/generate", {"category": "dress"}).status_code == 200


def test_info_reports_the_lineage_labels_of_every_model(server, model_tags):
    info = post(server, "/info", {}).json()
    for role in ("generator", "guide"):
        model = info["models"][role]
        assert model["tag"] == model_tags[role]
        assert {"mlflow_version", "git_commit", "data_version", "params_hash"} <= set(model["labels"])
    assert info["limits"]["max_images"] == 8
    batching = info["batching"]
    assert batching["enabled"] and 0 < batching["batches"] <= batching["images"]
    assert batching["largest"] <= batching["max_batch_size"]


def test_shop_page_is_served_with_a_strict_content_security_policy(server):
    response = httpx.get(f"{server.url}/shop/")
    assert response.status_code == 200
    assert "<form" in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "http" not in response.text.split("<body>")[1]  # nothing loaded from other hosts


def test_every_smoke_check_call_passes_against_a_healthy_server(server):
    from fitting_room.config.serving import BatchingConfig, ServingConfig
    from fitting_room.serving.smoke import http_call, smoke_calls

    serving = ServingConfig(max_images=8, max_k=12, batching=BatchingConfig(max_batch_size=12))
    for name, method, path, body, check in smoke_calls(serving):
        status, payload, _ = http_call(server.url, method, path, body)
        assert check(status, payload) is None, name
