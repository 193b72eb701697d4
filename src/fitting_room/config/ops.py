"""Config section for operations (``ops:``): schedule, run lock, drift thresholds, retries."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from fitting_room.config.base import Section

NUMERIC_DRIFT_FEATURES = ["height_cm", "weight_kg", "age_years", "bust_band_cm", "cup_index", "size"]
CATEGORICAL_DRIFT_FEATURES = ["fit", "body_type", "rented_for", "category"]


class ScheduleConfig(Section):
    deployment: str = Field("scheduled-retrain", min_length=1)  # Prefect deployment name
    cron: str = "0 3 * * *"  # when the scheduled retrain runs (5-field cron)
    drift_cron: str = "0 * * * *"  # when the drift check runs (5-field cron)
    timezone: str = "UTC"  # time zone the crons are read in
    work_pool: str = Field("fitting-room", min_length=1)  # Prefect process work pool
    profile: str = "default"  # params profile the scheduled run uses
    paused: bool = False  # register the schedule paused (turn on in the UI / `prefect deployment`)

    @field_validator("cron", "drift_cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"cron {value!r} must have 5 fields (minute hour day month weekday)")
        return value


class LockConfig(Section):
    path: Path = Path("build/locks/training-pipeline.lock")  # one training run at a time (git-ignored)
    wait_s: float = Field(0.0, ge=0)  # a second trigger waits this long for the lock, then exits


class DriftConfig(Section):
    reference: Path = Path("data/shoppers/validated.parquet")  # training reference (last validated data)
    numeric: list[str] = Field(default_factory=lambda: list(NUMERIC_DRIFT_FEATURES))  # PSI + KS
    categorical: list[str] = Field(default_factory=lambda: list(CATEGORICAL_DRIFT_FEATURES))  # share shift
    bins: int = Field(10, ge=2, le=100)  # reference-quantile bins of the PSI
    max_psi: float = Field(0.2, gt=0)  # population stability index above this = drift
    max_ks: float = Field(0.15, gt=0, le=1)  # two-sample KS statistic above this = drift
    max_share_shift: float = Field(0.1, gt=0, le=1)  # largest absolute category share change allowed
    min_rows: int = Field(50, ge=1)  # fewer incoming rows: no verdict (error)
    min_drifted: int = Field(1, ge=1)  # features that must drift before retraining is triggered


class TrackingCheckConfig(Section):
    retries: int = Field(3, ge=1, le=20)  # attempts to reach a remote MLflow server before failing
    backoff_s: float = Field(1.0, ge=0)  # first wait between attempts, doubled each time (seconds)
    timeout_s: float = Field(5.0, gt=0)  # per-attempt HTTP timeout (seconds)
    # the artifact-store probe's timeout: a server's first upload also loads its S3 client (seconds)
    probe_timeout_s: float = Field(30.0, gt=0)


class TaskRetriesConfig(Section):
    """Prefect retries of the tasks that are safe to repeat (``dvc push``, the drift record).

    A stage is retried only when it ended because the MLflow server went away (exit 75: DVC
    did not record it; a repeat trains again and goes through the gate again). A stage that
    failed its gate or its data checks would fail the same way again: never retried.
    """

    retries: int = Field(2, ge=0, le=10)  # extra attempts after a failure (0 = none)
    delay_s: float = Field(10.0, ge=0)  # wait before each retry (seconds)


class OpsConfig(Section):
    schedule: ScheduleConfig = ScheduleConfig()
    lock: LockConfig = LockConfig()
    drift: DriftConfig = DriftConfig()
    tracking_check: TrackingCheckConfig = TrackingCheckConfig()
    task_retries: TaskRetriesConfig = TaskRetriesConfig()
    audit_experiment: str = Field("fitting-room-ops", min_length=1)  # MLflow experiment of ops runs
