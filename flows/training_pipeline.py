"""The training pipeline as a Prefect flow: orchestration only.

Each Prefect task reproduces one DVC stage, so DVC's cache decides what re-runs (an
unchanged re-run is a fast no-op) while Prefect adds logs (each stage's own output, line by
line, in its task's log), the run summary artifact and (with a server) schedules. Retried
(``ops.task_retries``): ``dvc-push``, and a stage that ended because the MLflow server went
away in the middle (exit 75: DVC recorded nothing, its registry calls are repeated from the
start once the server is back). A stage that failed otherwise (bad data, the gate) would fail the
same way again and is not retried. All computing happens in ``fitting_room``; the stage list
is ``dvc.yaml`` itself, so the flow never claims a stage that does not exist.

    python flows/training_pipeline.py --profile smoke --set seed=1
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

# Before Prefect reads its settings: the ephemeral API gets 20 s to start by default, too
# little on a busy 2-core machine; analytics and MLflow's telemetry stay off. An explicit
# environment wins.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from fitting_room.config import load_config
from fitting_room.config.loader import OVERRIDES_ENV, PROFILE_ENV
from fitting_room.config.ops import TaskRetriesConfig
from fitting_room.errors import FittingRoomError, ServerUnavailable
from fitting_room.ops.lock import PipelineBusy, describe_stale, run_lock
from fitting_room.ops.noop import changed_stages, describe_changes
from fitting_room.ops.preflight import (
    bound_mlflow_retries,
    check_artifact_store,
    check_tracking_server,
    run_with_one_line_errors,
)
from fitting_room.pipeline.dvc_stages import (
    PushedTo,
    StageOutcome,
    pipeline_stages,
    push_outputs,
    repro_stage,
    stage_environment,
)
from fitting_room.pipeline.summary import mlflow_run_link, where_to_look
from fitting_room.tracking.mlflow_runs import pipeline_run, tracking_uri, warm_tracking

ROOT = Path(__file__).resolve().parents[1]


@task(name="dvc-stage", task_run_name="{name}")
def run_stage(name: str, root: str) -> StageOutcome:
    """Reproduce one DVC stage (skipped by DVC when nothing it depends on changed).

    The stage command's output and DVC's messages go to this task's log as they come.
    """
    logger = get_run_logger()
    outcome = repro_stage(name, root, log=logger.info)
    verb = "ran" if outcome.ran else "unchanged, skipped"
    logger.info("stage %s: %s in %.1f s", name, verb, outcome.seconds)
    return outcome


def server_went_away(task, task_run, state) -> bool:
    """Prefect's retry condition of a stage: only a stage that lost a server is run again."""
    return isinstance(state.result(raise_on_failure=False), ServerUnavailable)


def stage_task(retries: TaskRetriesConfig):
    """The stage task as the flow runs it: retried (``retries``) only when it lost a server."""
    return run_stage.with_options(
        retries=retries.retries, retry_delay_seconds=retries.delay_s, retry_condition_fn=server_went_away
    )


@task(name="dvc-push")
def push(root: str) -> PushedTo | None:
    """Push DVC outputs to the default remote (none configured: nothing to do).

    Safe to retry: a push sends only what the remote lacks. The flow sets the retries from
    ``ops.task_retries``.
    """
    return push_outputs(root, log=get_run_logger().info)


@flow(name="training-pipeline", log_prints=True)
def training_pipeline(
    profile: str | None = None,
    overrides: list[str] | None = None,
    root: str = str(ROOT),
    push_data: bool = True,
    until: str | None = None,
) -> list[StageOutcome]:
    """Run every stage of ``dvc.yaml`` in order under one MLflow parent run.

    Args:
        profile: params profile (``smoke``, ``default``...); None = env or default.
        overrides: ``dotted.key=value`` params overrides.
        root: project root holding ``dvc.yaml`` and ``params.yaml``.
        push_data: push DVC outputs to the default remote at the end.
        until: stop after this stage (e.g. ``validate_shoppers`` for the data stages only).
    """
    # validate params before any work; the stages then see the same profile and overrides
    cfg = load_config(Path(root) / "params.yaml", profile, overrides)
    env = {
        PROFILE_ENV: cfg.profile,
        OVERRIDES_ENV: ";".join([os.environ.get(OVERRIDES_ENV, ""), *(overrides or [])]).strip(";"),
    }
    with stage_environment(env, root):
        return _locked_run(cfg, root, until, push_data)


def _locked_run(cfg, root: str, until: str | None, push_data: bool) -> list[StageOutcome]:
    """Take the run lock (or step aside for the run holding it) and run the stages."""
    stages = pipeline_stages(root)
    if until is not None:
        if until not in stages:
            known = ", ".join(stages)
            raise FittingRoomError(f"--until {until!r}: no such stage in dvc.yaml (stages: {known})")
        stages = stages[: stages.index(until) + 1]
    bound_mlflow_retries(cfg.ops.tracking_check)
    uri = tracking_uri(cfg.tracking, root)
    check_tracking_server(uri, cfg.ops.tracking_check)
    check_artifact_store(uri, cfg.ops.tracking_check)
    from dvc.repo import Repo  # noqa: F401  (imported here, not beside MLflow's import in the warm-up)

    warm = warm_tracking(cfg.tracking, root)
    logger = get_run_logger()
    flow_run_id = str(flow_run.get_id() or "")
    lock_path = Path(root) / cfg.ops.lock.path
    with contextlib.ExitStack() as held:
        try:
            acquired = held.enter_context(run_lock(lock_path, f"flow run {flow_run_id}", cfg.ops.lock.wait_s))
        except PipelineBusy as busy:
            # a second trigger: say so and finish; the run holding the lock does the work
            logger.warning("%s", busy)
            create_markdown_artifact(key="training-pipeline-summary", markdown=f"## Skipped\n\n{busy}\n")
            return []
        if acquired.stale is not None:
            logger.warning("%s", describe_stale(acquired.stale))
        outcomes, remote, run, noop = _run_stages(cfg, root, stages, push_data, flow_run_id, warm)
    run_id = run.info.run_id

    where = f"{remote.name} ({remote.url})" if remote else "none"
    rows = "\n".join(
        f"| {o.name} | {'ran' if o.ran else 'unchanged (skipped)'} | {o.seconds:.1f} |" for o in outcomes
    )
    create_markdown_artifact(
        key="training-pipeline-summary",
        markdown=(
            f"## Training pipeline ({cfg.profile})\n\n| stage | result | seconds |\n|---|---|---|\n{rows}\n\n"
            + ("**No-op**: data, params and code unchanged; nothing retrained.\n\n" if noop else "")
            + f"MLflow parent run: `{run_id}`; DVC remote: `{where}`\n"
        ),
        description="Stages run or skipped by DVC in this pipeline run",
    )
    link = mlflow_run_link(tracking_uri(cfg.tracking, root), run.info.experiment_id, run_id)
    logger.info("where to look:\n  %s", "\n  ".join(where_to_look(cfg, root, link)))
    if any(o.ran for o in outcomes if o.name != "configure"):
        logger.info("dvc.lock changed: commit it (`git add dvc.lock`) to version this run's data and models")
    return outcomes


def _run_stages(cfg, root: str, stages: list[str], push_data: bool, flow_run_id: str, warm):
    """Run the stages under the pipeline's MLflow parent run; a no-op when DVC sees no change.

    ``configure`` and the one DVC status call come first, while ``warm`` (MLflow's import
    and store) finishes in the background; the parent run then records them too.
    """
    logger = get_run_logger()
    retries = cfg.ops.task_retries
    stage = stage_task(retries)
    outcomes: list[StageOutcome] = []
    todo = stages
    if stages and stages[0] == "configure":
        # configure refreshes params and input fingerprints (no MLflow); then one status call decides
        outcomes.append(stage("configure", root))
        changes = changed_stages(root, stages[1:])
        todo = stages[1:] if changes else []
        if changes:
            logger.info("changed since the last run: %s", describe_changes(changes))
    noop = bool(stages) and not todo
    if noop:
        logger.info("no-op: data, params and code unchanged since dvc.lock; nothing to retrain")
        outcomes += [StageOutcome(name, False, 0.0) for name in stages[1:]]
    warm.join()
    with pipeline_run(cfg, root, flow_run_id=flow_run_id) as parent:
        import mlflow

        for name in todo:
            outcomes.append(stage(name, root))
        for outcome in outcomes:
            mlflow.set_tag(f"stage.{outcome.name}", "ran" if outcome.ran else "cached")
        mlflow.set_tag("noop", str(noop).lower())
        pushing = push.with_options(retries=retries.retries, retry_delay_seconds=retries.delay_s)
        remote = pushing(root) if push_data else None
        # where this run's data versions (the dvc_data_hashes of its stage runs) are stored
        mlflow.set_tags(
            {"dvc_remote": remote.name if remote else "none", "dvc_remote_url": remote.url if remote else ""}
        )
    return outcomes, remote, parent, noop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="params profile (default: $FITTING_ROOM_PROFILE or default)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key=value")
    parser.add_argument("--no-push", action="store_true", help="do not push DVC outputs")
    parser.add_argument("--until", help="stop after this dvc.yaml stage")
    args = parser.parse_args()
    # Prefect has logged a failure with its traceback; the command ends on the one line that matters
    outcomes = run_with_one_line_errors(
        lambda: training_pipeline(
            profile=args.profile, overrides=args.overrides, push_data=not args.no_push, until=args.until
        )
    )
    if not outcomes:
        print("pipeline skipped: another training run holds the lock (see the log above)")
        return
    ran = [o.name for o in outcomes if o.ran and o.name != "configure"]
    print("pipeline finished: " + (f"re-ran {', '.join(ran)}" if ran else "everything up to date (no-op)"))


if __name__ == "__main__":
    main()
