"""Wall time of an unchanged scheduled run (target < 30 s), as one JSON object.

Runs the training flow once to bring everything up to date (skip with ``--no-warmup`` when
it already is), then times it again: that second run is what the schedule does when data,
params and code did not change. Two ways to run it:

- default: ``flows/training_pipeline.py`` as a command (Prefect's ephemeral API), in a
  throwaway copy of this checkout's HEAD with its own DVC cache, MLflow store and BentoML
  store: the checkout's ``data/``, ``models/``, store and current bento stay as they were;
- ``--deployment``: a run of the training deployment through the server at
  ``PREFECT_API_URL`` and its worker, timed from its start time to its final state (the
  worker's polling and the flow-run process start included); the run's
  ``training-pipeline-summary`` artifact says whether it was a no-op. The run is scheduled
  ``--lead`` seconds ahead, as the cron schedule creates its runs ahead of time (the worker
  sees it within its prefetch window and starts the process early, as for a cron run);
  ``--lead 0`` times a run triggered now (``prefect deployment run``), which also waits for
  the worker's next poll (``PREFECT_WORKER_QUERY_SECONDS``, 10 s by default). The run happens
  in the project the deployment was registered from (``flows/deploy.py``), as a scheduled run
  would: point it at a throwaway deployment, as ``scripts/ops_demo.sh`` does.

    python benchmarks/ops_noop.py --profile smoke --until validate_shoppers
    PREFECT_API_URL=http://127.0.0.1:4200/api python benchmarks/ops_noop.py --profile smoke --deployment
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0
DEPLOYMENT = "training-pipeline/scheduled-retrain"
SUMMARY_KEY = "training-pipeline-summary"


def throwaway_copy(work: Path, profile: str) -> tuple[Path, dict[str, str]]:
    """This checkout's HEAD as its own git repo in ``work``, and the environment that keeps it apart.

    The copy has its own DVC cache, MLflow store (``mlruns/`` inside it), BentoML store and
    Prefect home, so the benchmark never touches the checkout's ``data/``, ``models/``, store or
    current bento. The configured shopper files are passed by absolute path.
    """
    from fitting_room.config import load_config

    project = work / "project"
    project.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(project)], input=archive.stdout, check=True)
    git = ["git", "-C", str(project), "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "benchmark copy"]):
        subprocess.run([*git, *cmd], check=True)
    sources = load_config(ROOT / "params.yaml", profile).data.shoppers.sources
    settings = [
        f"data.shoppers.sources.{i}.path={(ROOT / s.path).resolve()}" for i, s in enumerate(sources) if s.path
    ]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "FITTING_ROOM_", "PREFECT_API"))
    }
    env.update(
        FITTING_ROOM_SET=";".join(settings),
        BENTOML_HOME=str(work / "bentoml"),
        PREFECT_HOME=str(work / "prefect"),
    )
    return project, env


def timed_run(args: list[str], project: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run the training flow once in ``project``; returns wall seconds and its last output line."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(project / "flows" / "training_pipeline.py"), "--no-push", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"training flow failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return seconds, (lines[-1] if lines else "")


def timed_deployment_run(name: str, parameters: dict, lead_s: float, timeout_s: float) -> tuple[float, str]:
    """One run of deployment ``name`` due in ``lead_s`` seconds; seconds from then to its final state."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
    from prefect.deployments import run_deployment

    due = datetime.now(UTC) + timedelta(seconds=lead_s)
    run = run_deployment(
        name,
        parameters=parameters,
        scheduled_time=due if lead_s > 0 else None,
        timeout=lead_s + timeout_s,
        poll_interval=0.5,
        as_subflow=False,
    )
    seconds = (datetime.now(UTC) - due).total_seconds()
    if not (run.state and run.state.is_completed()):
        raise SystemExit(f"deployment run {run.name} ({run.id}) is {run.state_name} after {seconds:.0f} s")
    flt = ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]), key=ArtifactFilterKey(any_=[SUMMARY_KEY])
    )
    with get_client(sync_client=True) as client:
        summary = " ".join(str(a.data) for a in client.read_artifacts(artifact_filter=flt))
    verdict = "everything up to date (no-op)" if "**No-op**" in summary else "stages re-ran"
    # the rest of the wall time is the queue: the worker's polling and the flow-run process start
    running = (run.end_time - run.start_time).total_seconds()
    return seconds, f"flow run {run.name}: {run.state_name} ({running:.1f} s Running), {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--until", help="stop after this stage (e.g. validate_shoppers)")
    parser.add_argument("--no-warmup", action="store_true", help="the pipeline is already up to date")
    parser.add_argument("--repeats", type=int, default=1, help="timed unchanged runs (the median is kept)")
    parser.add_argument(
        "--deployment",
        nargs="?",
        const=DEPLOYMENT,
        help=f"time a run of this deployment through PREFECT_API_URL's server and worker ({DEPLOYMENT})",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for a deployment run")
    parser.add_argument(
        "--lead", type=float, default=20, help="schedule the deployment run this far ahead (0 = now)"
    )
    args = parser.parse_args()
    if args.deployment:
        if not os.environ.get("PREFECT_API_URL"):
            raise SystemExit("--deployment needs PREFECT_API_URL: a running server with a worker of the pool")
        # the same run as the command below: this profile and stage range, no DVC push
        parameters = {"profile": args.profile, "until": args.until, "push_data": False}

        def once() -> tuple[float, str]:
            return timed_deployment_run(args.deployment, parameters, args.lead, args.timeout)
    else:
        flow_args = ["--profile", args.profile, *(["--until", args.until] if args.until else [])]
        work = Path(tempfile.mkdtemp(prefix="ops-noop-"))
        project, env = throwaway_copy(work, args.profile)

        def once() -> tuple[float, str]:
            return timed_run(flow_args, project, env)

    warmup = None if args.no_warmup else once()[0]
    runs = [once() for _ in range(args.repeats)]
    seconds = sorted(s for s, _ in runs)[len(runs) // 2]
    print(
        json.dumps(
            {
                "benchmark": "ops_noop",
                "profile": args.profile,
                "until": args.until,
                "prefect_api": os.environ.get("PREFECT_API_URL") or "ephemeral",
                "through": (
                    f"deployment {args.deployment} (server + worker), scheduled {args.lead:g} s ahead"
                    if args.deployment
                    else "command"
                ),
                "warmup_s": None if warmup is None else round(warmup, 2),
                "noop_s": round(seconds, 2),
                "noop_runs_s": [round(s, 2) for s, _ in runs],
                "target_s": TARGET_S,
                "passed": seconds < TARGET_S and "no-op" in runs[-1][1],
                "last_line": runs[-1][1],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
