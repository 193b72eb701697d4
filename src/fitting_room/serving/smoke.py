"""The smoke check (an InfraValidator): serve a bento for real, call every endpoint, time it.

It runs before a bento may become current. Every check returns a problem string or nothing,
so the report lists *all* that is wrong, not just the first failure.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fitting_room.config.serving import ServingConfig
from fitting_room.serving.server import ServerFailed, running_server

# a ShopperProfile (fitting_room.recommender.guide): SI units, bra band in cm (34 in)
SAMPLE_PROFILE = {
    "height_cm": 168.0,
    "weight_kg": 62.0,
    "bust_band_cm": 86.4,
    "cup": "b",
    "age_years": 31,
    "occasion": "wedding",
}


def http_call(
    base: str, method: str, path: str, body: Any = None, timeout: float = 30.0
) -> tuple[int, Any, float]:
    """One request; returns ``(status, parsed JSON or text, seconds)``."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    elapsed = time.perf_counter() - start
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        payload = raw.decode("utf-8", "replace")
    return status, payload, elapsed


def _expect(condition: bool, problem: str) -> str | None:
    return None if condition else problem


def smoke_calls(serving: ServingConfig) -> list[tuple[str, str, str, Any, Callable[[int, Any], str | None]]]:
    """(name, method, path, body, check) for every endpoint and the main error cases."""
    from fitting_room.serving.images import decode_png_base64

    def images_ok(status: int, body: Any) -> str | None:
        if status != 200:
            return f"/generate answered {status}: {body}"
        if len(body.get("images", [])) != 2:
            return "/generate n=2 did not return 2 images"
        pixels = decode_png_base64(body["images"][0])
        return _expect(pixels.ndim in (2, 3) and pixels.size > 0, "/generate returned an empty image")

    def recs_ok(status: int, body: Any) -> str | None:
        if status != 200:
            return f"/recommend answered {status}: {body}"
        items = body.get("items", [])
        if len(items) != 3:
            return f"/recommend k=3 returned {len(items)} items"
        return _expect(all(item.get("preview") for item in items), "/recommend item without a preview")

    def fit_ok(status: int, body: Any) -> str | None:
        if status != 200:
            return f"/fit answered {status}: {body}"
        probs = body["sizes"][0]["probabilities"]
        return _expect(abs(sum(probs.values()) - 1) < 1e-3, "/fit probabilities do not sum to 1")

    def tryon_ok(status: int, body: Any) -> str | None:
        if status != 200:
            return f"/try-on answered {status}: {body}"
        views = body.get("sizes", [])
        pixels = decode_png_base64(views[0]["image"]) if views else None
        return _expect(pixels is not None and pixels.ndim == 3, "/try-on returned no drawing")

    def status_is(code: int, what: str) -> Callable[[int, Any], str | None]:
        return lambda status, body: _expect(status == code, f"{what}: expected {code}, got {status} ({body})")

    too_many = serving.max_images + 1
    return [
        ("livez", "GET", "/livez", None, status_is(200, "/livez")),
        ("readyz", "GET", "/readyz", None, status_is(200, "/readyz")),
        ("metrics", "GET", "/metrics", None, status_is(200, "/metrics")),
        ("info", "POST", "/info", {}, status_is(200, "/info")),
        ("page", "GET", "/shop/", None, status_is(200, "/shop/")),
        ("generate", "POST", "/generate", {"category": "dress", "n": 2, "seed": 7}, images_ok),
        ("recommend", "POST", "/recommend", {"profile": SAMPLE_PROFILE, "k": 3}, recs_ok),
        ("fit", "POST", "/fit", {"profile": SAMPLE_PROFILE, "item_id": "smoke-unknown-item"}, fit_ok),
        ("try_on", "POST", "/try-on", {"profile": SAMPLE_PROFILE, "category": "dress", "seed": 7}, tryon_ok),
        ("n_too_big", "POST", "/generate", {"category": 0, "n": too_many}, status_is(400, "n above bound")),
        ("bad_category", "POST", "/generate", {"category": "spacesuit"}, status_is(400, "unknown category")),
        (
            "impossible_height",
            "POST",
            "/recommend",
            {"profile": {"height_cm": 300}, "k": 3},
            status_is(400, "3 m tall shopper"),
        ),
    ]


def smoke_check(target: str, serving: ServingConfig, log_path: str | Path, args: dict | None = None) -> dict:
    """Serve ``target`` (bento tag or ``module:Service``), call every endpoint, then stop it.

    Returns:
        ``{"passed", "problems", "startup_s", "max_latency_ms", "latency_budget_ms", "calls"}``.
    """
    smoke = serving.smoke_check
    report: dict[str, Any] = {"target": target, "latency_budget_ms": smoke.latency_budget_ms, "problems": []}
    start = time.perf_counter()
    try:
        with running_server(
            target, log_path, startup_timeout_s=smoke.startup_timeout_s, args=args or {}
        ) as server:
            report["startup_s"] = round(time.perf_counter() - start, 2)
            calls = {}
            for name, method, path, body, check in smoke_calls(serving):
                timings = []
                for _ in range(smoke.repeats):
                    status, payload, seconds = http_call(
                        server.url, method, path, body, smoke.request_timeout_s
                    )
                    timings.append(seconds * 1000)
                    problem = check(status, payload)
                    if problem:
                        report["problems"].append(problem)
                        break
                # the first call may pay one-off costs (graph tracing); the budget is for warm calls
                warm = timings[1:] or timings
                calls[name] = {"max_ms": round(max(warm), 2), "status": status}
                if max(warm) > smoke.latency_budget_ms:
                    report["problems"].append(
                        f"{name}: {max(warm):.0f} ms > latency budget {smoke.latency_budget_ms:.0f} ms"
                    )
            report["calls"] = calls
            report["max_latency_ms"] = max(c["max_ms"] for c in calls.values())
    except ServerFailed as err:
        report["problems"].append(str(err)[-2000:])
    report["passed"] = not report["problems"]
    return report
