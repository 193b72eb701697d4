"""Register the scheduled retraining (and the drift check) as Prefect deployments.

The schedule, work pool and profile come from ``ops.schedule`` in ``params.yaml``; the
same deployments are described in ``prefect.yaml`` for ``prefect deploy --all`` (a test
keeps the two in step). Point ``PREFECT_API_URL`` at a local server, a remote server or
Prefect Cloud; nothing else changes.

    prefect server start --host 127.0.0.1 &              # or PREFECT_API_URL=https://...
    python flows/deploy.py                               # creates the work pool if needed
    python flows/deploy.py --set ops.schedule.profile=smoke --set ops.schedule.paused=true
    prefect worker start --pool fitting-room              # runs what the schedule triggers
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from fitting_room.config import load_config
from fitting_room.config.ops import ScheduleConfig
from fitting_room.ops.preflight import run_with_one_line_errors
from fitting_room.pipeline.entrypoints import DRIFT_ENTRYPOINT, TRAINING_ENTRYPOINT

ROOT = Path(__file__).resolve().parents[1]
DRIFT_DEPLOYMENT = "drift-check"


def ensure_work_pool(name: str) -> None:
    """Create the ``process`` work pool ``name`` unless it exists."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))


def deploy_all(schedule: ScheduleConfig, root: Path = ROOT) -> dict[str, str]:
    """Register the training deployment (cron, one run at a time) and the drift check.

    Returns:
        Deployment full name -> deployment id.
    """
    ensure_work_pool(schedule.work_pool)
    training = deploy_flow(
        TRAINING_ENTRYPOINT,
        schedule.deployment,
        schedule.cron,
        schedule,
        root,
        tags=["fitting-room", "retrain"],
        description="Scheduled retraining: a no-op unless data, params or code changed (DVC decides).",
    )
    drift = deploy_flow(
        DRIFT_ENTRYPOINT,
        DRIFT_DEPLOYMENT,
        schedule.drift_cron,
        schedule,
        root,
        tags=["fitting-room", "drift"],
        description="Shopper-data drift check; triggers retraining when drift passes ops.drift.",
    )
    return {
        f"training-pipeline/{schedule.deployment}": training,
        f"drift-check/{DRIFT_DEPLOYMENT}": drift,
    }


def deploy_flow(
    entrypoint: str,
    name: str,
    cron: str,
    schedule: ScheduleConfig,
    root: Path,
    tags: list[str],
    description: str,
) -> str:
    """Register one flow of ``root`` as a deployment on the schedule's pool, one run at a time.

    Returns:
        The deployment id.
    """
    from prefect import flow
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron

    # a second trigger waits in the queue; the file lock guards runs started elsewhere
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    deployment_id = flow.from_source(source=str(root), entrypoint=entrypoint).deploy(
        name=name,
        work_pool_name=schedule.work_pool,
        schedule=Cron(cron, timezone=schedule.timezone),
        paused=schedule.paused,
        concurrency_limit=one_at_a_time,
        parameters={"profile": schedule.profile},
        tags=tags,
        description=description,
        print_next_steps=False,
        ignore_warnings=True,  # a process pool is the point: the worker runs in this checkout
    )
    return str(deployment_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(ROOT / "params.yaml"), help="params file")
    parser.add_argument("--profile", help="params profile whose ops.schedule is used")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="key=value, e.g. ops.schedule.profile=smoke",
    )
    args = parser.parse_args()
    # bad params: one line naming them, exit 2; the Prefect server down: one line naming it, exit 75
    cfg = run_with_one_line_errors(lambda: load_config(args.params, args.profile, args.overrides))
    deployments = run_with_one_line_errors(lambda: deploy_all(cfg.ops.schedule))
    for name, deployment_id in deployments.items():
        print(f"deployment {name} ({deployment_id})")
    print(f"start a worker: prefect worker start --pool {cfg.ops.schedule.work_pool}")


if __name__ == "__main__":
    main()
