"""The BentoML service: the fitting room (``/generate``) and the shopping guide (``/recommend``,
``/fit``), their lineage (``/info``), the shopper page (``/shop/``), and BentoML's own
``/livez``, ``/readyz`` and ``/metrics``.

This module is BentoML's entry point (``bentofile.yaml``), so -- unlike the rest of the
package -- defining the service here reads the bento arguments: BentoML fixes HTTP, traffic
and batching options when the class is defined. Models load in a background thread at start,
and ``/readyz`` answers 200 only once every model is loaded and warmed up -- in every worker
process when ``serving.workers > 1`` (:mod:`fitting_room.serving.replicas`).

Image generation goes through a :class:`~fitting_room.serving.batcher.ContinuousBatcher`:
the images of concurrent ``/generate`` and ``/recommend`` requests are drawn together in
shared generator calls, sized by the load. With ``batching=false`` each request calls the
generator itself (the baseline the benchmark compares against).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from typing import Any

import bentoml
from bentoml.exceptions import BentoMLException

from fitting_room.serving.args import ServiceArgs
from fitting_room.serving.limits import BodySizeLimit
from fitting_room.serving.page import shop_page
from fitting_room.serving.schemas import (
    FitAnswer,
    GeneratedImages,
    ImageJob,
    Recommendations,
    ServiceInfo,
    TryOnAnswer,
    api_models,
)
from fitting_room.tracking.roles import GENERATOR, GUIDE
from fitting_room.tryon.view import ViewConfig

log = logging.getLogger("fitting_room.serving")

# typed Any: its fields are generated from ServingConfig (serving/args.py), out of mypy's sight
ARGS: Any = bentoml.use_arguments(ServiceArgs)
API = api_models(ARGS.max_images, ARGS.max_k, ARGS.max_sizes, ARGS.tryon_max_sizes)
VIEW = ViewConfig(
    width=ARGS.tryon_width_px,
    height=ARGS.tryon_height_px,
    px_per_cm=ARGS.tryon_px_per_cm,
    ease_cm=ARGS.tryon_ease_cm,
    grade_cm_per_size=ARGS.tryon_grade_cm_per_size,
    threshold=ARGS.tryon_mark_threshold,
)


def rejection(err: Any) -> Any:
    """A 4xx JSON answer naming the field, shaped like BentoML's own validation errors."""
    from starlette.responses import JSONResponse

    return JSONResponse({"error": str(err), "field": err.field}, status_code=err.status)


class NotReady(BentoMLException):
    def __init__(self) -> None:
        from http import HTTPStatus

        super().__init__(
            "models are still loading; retry when /readyz answers 200", error_code=HTTPStatus(503)
        )


@bentoml.asgi_app(shop_page(), path="/shop", name="shop")
@bentoml.service(
    name="fitting_room",
    description="GAN virtual fitting room and AI shopping guide",
    http={"host": ARGS.host, "port": ARGS.port},
    traffic={"timeout": ARGS.timeout_s, "max_concurrency": ARGS.max_concurrency},
    workers=ARGS.workers,
    threads=ARGS.threads,
    metrics={"enabled": True},
    # BentoML always wraps requests in an OpenTelemetry span; with tracing off (and by default
    # nothing is exported: sample_rate 0) every URL is excluded, so the middleware passes through
    tracing={} if ARGS.tracing else {"excluded_urls": [".*"]},
    logging={"access": {"enabled": ARGS.access_log, "skip_paths": ["/livez", "/readyz", "/metrics"]}},
)
class FittingRoom:
    generator_model = bentoml.models.BentoModel(ARGS.generator_model)
    guide_model = bentoml.models.BentoModel(ARGS.guide_model)

    def __init__(self) -> None:
        from bentoml._internal.context import server_context

        from fitting_room.serving.replicas import WorkerRegistry
        from fitting_room.serving.shopping import PreviewCache

        self.studio: Any = None
        self.guide: Any = None  # ShoppingGuide behind /fit and /recommend
        self.previews = PreviewCache(ARGS.preview_cache)
        self.photos = PreviewCache(ARGS.preview_cache)  # item previews as product photos
        self.cutouts = PreviewCache(ARGS.tryon_cutout_cache)  # garment cut-outs of /try-on
        self.batcher: Any = None
        self._slots: Any = None
        self.error: str | None = None
        self._loaded = threading.Event()
        # any worker may answer /readyz, so each one reports for all (see replicas.py)
        self.replicas = WorkerRegistry(ARGS.workers, server_context.worker_index or 1)
        self.replicas.start()
        threading.Thread(target=self._load, name="load-models", daemon=True).start()

    def _load(self) -> None:
        from fitting_room.recommender.guide import ShopperProfile
        from fitting_room.serving.batcher import ContinuousBatcher
        from fitting_room.serving.bundle import load_drawer
        from fitting_room.serving.shopping import load_guide
        from fitting_room.serving.studio import Studio
        from fitting_room.serving.tryon import warm_up_tryon

        try:
            studio = Studio(load_drawer(self.generator_model.path))
            studio.render(studio.plan(0, 1, 0))  # warm-up: the first call traces the graph
            guide = load_guide(self.guide_model.path)
            guide.recommend(ShopperProfile(), 1)  # warm-up: first LightGBM call allocates
            warm_up_tryon(guide)  # the first drawing imports OpenCV, SciPy and scikit-image
            self.studio, self.guide = studio, guide
            self.batcher = ContinuousBatcher(studio.render, ARGS.max_batch_size)
            # TensorFlow, pandas and the models leave ~0.5 M long-lived objects; a full
            # collection walks them all (~0.35 s on this CPU), stalling every request in flight
            # -- the p99 tail. Freezing moves them out of the collector's sight for good.
            gc.collect()
            gc.freeze()
            rss_mb = self.replicas.mark_loaded()  # before serving: /readyz must never trail the handlers
            self._loaded.set()
            log.info(
                "models loaded in worker %d of %d (%s MiB resident): generator %s, guide %s",
                self.replicas.index,
                ARGS.workers,
                rss_mb,
                self.generator_model.tag,
                self.guide_model.tag,
            )
        except Exception as err:  # readiness must report it, the process must not die silently
            self.error = f"{type(err).__name__}: {err}"
            log.exception("loading models failed")
            with contextlib.suppress(OSError):
                self.replicas.mark_failed(self.error)

    def __is_ready__(self) -> bool:
        return self._loaded.is_set() and self.replicas.all_loaded()

    @bentoml.on_shutdown
    def _remove_replica_record(self) -> None:
        self.replicas.close()

    def _scoring_slots(self) -> Any:
        """At most one guide scoring call per CPU core at a time; the rest wait in FIFO order.

        Scoring is CPU-bound (LightGBM): more calls at once than cores only share the cores
        and stretch every call, so the slowest request of a burst waits longest (the p99).
        """
        if self._slots is None:  # created on the server's event loop, at the first request
            import os

            import anyio

            self._slots = anyio.CapacityLimiter(max(1, len(os.sched_getaffinity(0))))
        return self._slots

    def _ready_studio(self) -> Any:
        if not self._loaded.is_set():
            raise NotReady()
        return self.studio

    async def _render(self, jobs: list[ImageJob]) -> list[str]:
        if not jobs:
            return []
        if ARGS.batching:
            return await self.batcher.submit(jobs)
        import anyio

        return await anyio.to_thread.run_sync(self._ready_studio().render, jobs)

    @bentoml.api(route="/generate", input_spec=API.GenerateRequest, output_spec=GeneratedImages)
    async def generate(
        self,
        category: str | int,
        n: int = 1,
        seed: int = 0,
        interpolate_to: int | None = None,
        style: str = "raw",
    ) -> GeneratedImages:
        """Generate ``n`` garment images of a category; same seed, same images (style photo: cut out)."""
        from fitting_room.serving.studio import RequestError

        studio = self._ready_studio()
        try:
            label = studio.category_index(category)
            jobs = studio.plan(label, n, seed, interpolate_to)
        except RequestError as err:
            return rejection(err)
        images = await self._render(jobs)
        if style == "photo":
            images = await self._photos(images, jobs)
        return GeneratedImages(
            category=studio.class_names[label],
            category_index=label,
            seeds=[job.seed for job in jobs],
            steps=[job.t for job in jobs],
            images=images,
        )

    @bentoml.api(route="/recommend", input_spec=API.RecommendRequest, output_spec=Recommendations)
    async def recommend(self, profile: Any, k: int = 10, style: str = "raw") -> Recommendations:
        """Garments for a shopper, best first, each with advised size, fit probabilities and a preview."""
        import anyio

        from fitting_room.serving import shopping
        from fitting_room.serving.studio import RequestError

        studio = self._ready_studio()
        try:
            shopping.check_profile(profile, ARGS.max_history)
            items, cold = await anyio.to_thread.run_sync(
                shopping.recommend, self.guide, profile, k, limiter=self._scoring_slots()
            )
            jobs = [
                studio.preview_job(
                    studio.category_index(item["generator_class"], "generator_class"),
                    item["item_id"],
                    ARGS.preview_seed,
                )
                for item in items
            ]
        except RequestError as err:  # a guide class the generator lacks is named, not a 500
            return rejection(err)
        previews: list[Any] = [self.previews.get(item["item_id"]) for item in items]
        missing = [i for i, preview in enumerate(previews) if preview is None]
        for i, drawn in zip(missing, await self._render([jobs[i] for i in missing]), strict=True):
            previews[i] = drawn
            self.previews.put(items[i]["item_id"], drawn)
        if style == "photo":
            photos: list[Any] = [self.photos.get(item["item_id"]) for item in items]
            todo = [i for i, photo in enumerate(photos) if photo is None]
            for i, photo in zip(
                todo, await self._photos([previews[i] for i in todo], [jobs[i] for i in todo]), strict=True
            ):
                photos[i] = photo
                self.photos.put(items[i]["item_id"], photo)
            previews = photos
        return Recommendations(
            k=k,
            cold_start=cold,
            items=[
                shopping.recommended_item(item, preview or "", job.seed)
                for item, preview, job in zip(items, previews, jobs, strict=True)
            ],
        )

    @bentoml.api(route="/fit", input_spec=API.FitRequest, output_spec=FitAnswer)
    async def fit(self, profile: Any, item_id: str, sizes: list[float] | None = None) -> FitAnswer:
        """P(small), P(fit), P(large) of a garment in each size for a shopper, and the advised size."""
        import anyio

        from fitting_room.serving import shopping
        from fitting_room.serving.studio import RequestError

        self._ready_studio()
        try:
            shopping.check_profile(profile, ARGS.max_history)
            return await anyio.to_thread.run_sync(
                shopping.advise, self.guide, profile, item_id, sizes, limiter=self._scoring_slots()
            )
        except RequestError as err:
            return rejection(err)

    async def _photos(self, images: list[str], jobs: list[ImageJob]) -> list[str]:
        """Generated images as product photos (cut out, upscaled, on a light background)."""
        if not images:
            return []
        import anyio

        from fitting_room.serving.tryon import photo_of

        def convert() -> list[str]:
            return [
                photo_of(image, job, ARGS.tryon_photo_px) if image else ""
                for image, job in zip(images, jobs, strict=True)
            ]

        return await anyio.to_thread.run_sync(convert)

    @bentoml.api(route="/try-on", input_spec=API.TryOnRequest, output_spec=TryOnAnswer)
    async def try_on(
        self,
        profile: Any,
        item_id: str | None = None,
        category: str | int | None = None,
        seed: int = 0,
        sizes: list[float] | None = None,
    ) -> TryOnAnswer:
        """The garment on a figure drawn from the shopper's measurements, one PNG per size, with fit notes."""
        import anyio

        from fitting_room.serving import shopping, tryon
        from fitting_room.serving.studio import RequestError

        studio = self._ready_studio()
        try:
            shopping.check_profile(profile, ARGS.max_history)
            garment = tryon.pick_garment(studio, self.guide, item_id, category, seed, ARGS.preview_seed)
            cutout: Any = self.cutouts.get(garment.cache_key)
            if cutout is None:
                (image,) = await self._render([garment.job])
                cutout = await anyio.to_thread.run_sync(tryon.cutout_of, image, garment.job)
                self.cutouts.put(garment.cache_key, cutout)
            return await anyio.to_thread.run_sync(
                tryon.answer,
                self.guide,
                profile,
                garment,
                sizes,
                cutout,
                VIEW,
                limiter=self._scoring_slots(),
            )
        except RequestError as err:
            return rejection(err)

    @bentoml.api(route="/info", output_spec=ServiceInfo)
    async def info(self) -> ServiceInfo:
        """Lineage: the bento and each model (MLflow version, git commit, data and params hashes)."""
        # async: it only reads memory, so it needs no worker thread (and the serving benchmark
        # uses it as the cost of an API request with no model work)
        from bentoml._internal.context import server_context

        stored = {GENERATOR: self.generator_model, GUIDE: self.guide_model}
        models = {
            role: {"tag": str(model.tag), "labels": dict(model.info.labels)} for role, model in stored.items()
        }
        bento = f"{server_context.bento_name}:{server_context.bento_version}"
        return ServiceInfo(
            bento=bento,
            models=models,
            categories=self.studio.class_names if self.studio else [],
            limits={
                "max_images": ARGS.max_images,
                "max_k": ARGS.max_k,
                "max_sizes": ARGS.max_sizes,
                "tryon_max_sizes": ARGS.tryon_max_sizes,
            },
            batching={
                "enabled": ARGS.batching,
                "max_batch_size": ARGS.max_batch_size,
                **(self.batcher.stats.as_dict() if self.batcher else {}),
            },
            workers=self.replicas.records(),
        )


# bentoml.service turns the class into a Service object; its stub still types it as the class
FittingRoom.add_asgi_middleware(BodySizeLimit, max_bytes=ARGS.max_request_bytes)  # type: ignore[attr-defined]
