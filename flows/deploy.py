"""Register the scheduled retraining (and the drift check) as Prefect deployments.

The schedule, work pool and profile come from ``ops.schedule`` in ``params.yaml``; the
same deployments are described in ``prefect.yaml`` for ``prefect deploy --all`` (a test
keeps the two in step). Point ``PREFECT_API_URL`` at a local server, a remote server or
Prefect Cloud; nothing else changes.

    prefect server start --host 127.0.0.1 &              # or PREFECT_API_URL=https://...
    python flows/deploy.py                               # creates the work pool if needed
    prefect worker start --pool fitting-room              # runs what the schedule triggers
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from fitting_room.config import load_config
from fitting_room.config.ops import ScheduleConfig

ROOT = Path(__file__).resolve().parents[1]
TRAINING_ENTRYPOINT = "flows/training_pipeline.py:training_pipeline"
DRIFT_ENTRYPOINT = "flows/drift_check.py:drift_check"
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
    from prefect import flow
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron

    ensure_work_pool(schedule.work_pool)
    # a second trigger of the deployment waits in the queue; the file lock guards runs started elsewhere
    one_at_a_time = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    training = flow.from_source(source=str(root), entrypoint=TRAINING_ENTRYPOINT)
    training_id = training.deploy(
        name=schedule.deployment,
        work_pool_name=schedule.work_pool,
        schedule=Cron(schedule.cron, timezone=schedule.timezone),
        paused=schedule.paused,
        concurrency_limit=one_at_a_time,
        parameters={"profile": schedule.profile},
        tags=["fitting-room", "retrain"],
        description="Scheduled retraining: a no-op unless data, params or code changed (DVC decides).",
        print_next_steps=False,
    )
    drift = flow.from_source(source=str(root), entrypoint=DRIFT_ENTRYPOINT)
    drift_id = drift.deploy(
        name=DRIFT_DEPLOYMENT,
        work_pool_name=schedule.work_pool,
        schedule=Cron(schedule.drift_cron, timezone=schedule.timezone),
        paused=schedule.paused,
        concurrency_limit=one_at_a_time,
        parameters={"profile": schedule.profile},
        tags=["fitting-room", "drift"],
        description="Shopper-data drift check; triggers retraining when drift passes ops.drift.",
        print_next_steps=False,
    )
    return {
        f"training-pipeline/{schedule.deployment}": str(training_id),
        f"drift-check/{DRIFT_DEPLOYMENT}": str(drift_id),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(ROOT / "params.yaml"), help="params file")
    parser.add_argument("--profile", help="params profile whose ops.schedule is used")
    args = parser.parse_args()
    cfg = load_config(args.params, args.profile)
    for name, deployment_id in deploy_all(cfg.ops.schedule).items():
        print(f"deployment {name} ({deployment_id})")
    print(f"start a worker: prefect worker start --pool {cfg.ops.schedule.work_pool}")


if __name__ == "__main__":
    main()
