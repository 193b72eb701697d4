"""The drift check as a Prefect flow: compare incoming shopper data, record, maybe retrain.

The comparison is ``fitting_room.ops.drift``; this flow records the report as a Prefect
markdown artifact and an MLflow run (experiment ``ops.audit_experiment``), and when drift
passes the ``ops.drift`` thresholds it triggers retraining: a run of the scheduled
deployment when a Prefect server has one (the deployment's concurrency limit and the run
lock keep it to one training run), else the training flow in-process as a subflow.

    python flows/drift_check.py --incoming new_rentals.json.gz --profile smoke
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from fitting_room.config import Config, load_config
from fitting_room.ops.drift import DriftReport, check_drift, incoming_paths
from fitting_room.ops.preflight import run_with_one_line_errors
from fitting_room.pipeline.entrypoints import TRAINING_ENTRYPOINT

ROOT = Path(__file__).resolve().parents[1]


@task(name="compare-shopper-data")
def compare(cfg: Config, paths: list[str], root: str) -> DriftReport:
    """Drift of the incoming files against the training reference."""
    return check_drift(cfg, [Path(p) for p in paths], root)


@task(name="record-drift")
def record(cfg: Config, report: DriftReport, paths: list[str], root: str) -> str:
    """The report as an MLflow run in the ops experiment; returns its run id.

    Safe to retry (``ops.task_retries``): a failed attempt's run ends FAILED and the next
    attempt records the same report in a new run.
    """
    import mlflow

    from fitting_room.tracking.mlflow_runs import configure_mlflow, lineage_tags

    configure_mlflow(cfg.tracking.model_copy(update={"experiment": cfg.ops.audit_experiment}), root)
    tags = {
        **lineage_tags(cfg, root),
        "stage": "drift_check",
        "drifted": str(report.drifted).lower(),
        "drifted_features": ",".join(report.drifted_features),
        "incoming": ",".join(paths)[:5000],
        "prefect_flow_run_id": str(flow_run.get_id() or ""),
    }
    with mlflow.start_run(run_name="drift-check", tags=tags) as run:
        mlflow.log_metrics(report.metrics())
        mlflow.log_dict(report.as_dict(), "drift/report.json")
        mlflow.log_text(report.to_markdown(), "drift/report.md")
    return run.info.run_id


def trigger_retraining(cfg: Config, profile: str | None, overrides: list[str] | None, root: str) -> str:
    """Start retraining; returns what was started (a deployment flow run or the in-process subflow)."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    logger = get_run_logger()
    parameters = {"profile": profile, "overrides": overrides}
    name = f"training-pipeline/{cfg.ops.schedule.deployment}"
    try:
        # timeout=0: do not wait; the worker runs it, queued behind any training run in progress
        started = run_deployment(name, parameters=parameters, timeout=0, as_subflow=False)
        logger.info("drift: triggered deployment %s (flow run %s)", name, started.id)
        return f"deployment {name}: flow run {started.id}"
    except ObjectNotFound:
        logger.info("drift: no deployment %s on this Prefect API; retraining in-process", name)
    from prefect.flows import load_flow_from_entrypoint

    # loaded by path as a worker loads it: the training flow of this same project root
    training_pipeline = load_flow_from_entrypoint(str(Path(root) / TRAINING_ENTRYPOINT))
    outcomes = training_pipeline(profile=profile, overrides=overrides, root=root)
    return "subflow: re-ran " + (", ".join(o.name for o in outcomes if o.ran) or "nothing")


@flow(name="drift-check", log_prints=True)
def drift_check(
    incoming: list[str] | None = None,
    profile: str | None = None,
    overrides: list[str] | None = None,
    root: str = str(ROOT),
    trigger: bool = True,
) -> dict[str, Any]:
    """Compare incoming shopper data with the training reference and retrain on drift.

    Args:
        incoming: new Clothing-Fit files; None = the configured shopper sources (a new drop
            at the same path is exactly what the next training run would ingest).
        profile: params profile; None = env or default.
        overrides: ``dotted.key=value`` params overrides (passed on to retraining).
        root: project root.
        trigger: start retraining when drift passes the thresholds.
    """
    cfg = load_config(Path(root) / "params.yaml", profile, overrides)
    paths = [str(p) for p in incoming_paths(cfg, [Path(p) for p in incoming or []])]
    report = compare(cfg, paths, root)
    retries = cfg.ops.task_retries
    run_id = record.with_options(retries=retries.retries, retry_delay_seconds=retries.delay_s)(
        cfg, report, paths, root
    )
    triggered = trigger_retraining(cfg, profile, overrides, root) if report.drifted and trigger else None
    create_markdown_artifact(
        key="drift-report",
        markdown=report.to_markdown()
        + f"\nMLflow run: `{run_id}`; retraining: {triggered or 'not triggered'}\n",
        description="Incoming shopper data vs the training reference",
    )
    return {**report.as_dict(), "mlflow_run_id": run_id, "retraining": triggered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incoming", action="append", help="new Clothing-Fit file (repeatable)")
    parser.add_argument("--profile", help="params profile")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key=value")
    parser.add_argument("--no-trigger", action="store_true", help="report only; never retrain")
    args = parser.parse_args()
    result = run_with_one_line_errors(
        lambda: drift_check(args.incoming, args.profile, args.overrides, trigger=not args.no_trigger)
    )
    verdict = "drift: " + ", ".join(result["drifted_features"]) if result["drifted"] else "no drift"
    print(f"{verdict}; retraining: {result['retraining'] or 'not triggered'}")


if __name__ == "__main__":
    main()
