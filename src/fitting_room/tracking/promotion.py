"""Promotion of model versions: quality gates and MLflow registry aliases, one mechanism for
every model we ship.

A new model version becomes ``champion`` only when it passes absolute thresholds and is
no worse than the current champion beyond a tolerance; otherwise it is ``challenger`` and
the champion is untouched. :func:`register_and_gate` does all of it for a training stage.
Rollbacks move ``champion`` back and leave an audit record.

Champion and challenger are compared on the same evaluation data. Every version records the
digest of what it was scored on (``eval.digest``: test data, evaluator, evaluation knobs);
when the champion's differs from the new run's, the stage re-scores the champion on the new
run's data (its ``rescore``); when it cannot, the comparison is refused and the new version
stays ``challenger``, saying why. Each params profile has its own registered models
(:mod:`fitting_room.tracking.roles`), so a run of one profile never moves another's champion.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fitting_room.config import Config
from fitting_room.config.gate import GateConfig
from fitting_room.errors import FittingRoomError, GateFailed
from fitting_room.files import sha256_file
from fitting_room.tracking.roles import registered_name

CHAMPION = "champion"
CHALLENGER = "challenger"
AUDIT_TAG_PREFIX = "audit."


EVAL_DIGEST_TAG = "eval.digest"
Rescore = Callable[[str], Mapping[str, float]]  # champion model URI -> its metrics on this run's data


@dataclass(frozen=True)
class GateCheck:
    name: str  # "minimum", "maximum", "vs_champion" or "comparable"
    metric: str
    value: float
    limit: float
    passed: bool
    note: str = ""  # "comparable": why the champion could not be compared

    def describe(self) -> str:
        op = {"minimum": ">=", "maximum": "<="}.get(self.name, "within tolerance of champion")
        if self.name == "comparable":
            return f"comparison with the champion refused: {self.note}"
        if self.name == "vs_champion":
            verdict = "ok" if self.passed else "worse than allowed"
            return f"{self.metric} = {self.value:.4g} vs champion limit {self.limit:.4g}: {verdict}"
        gap = "" if self.passed else f" (off by {abs(self.value - self.limit):.4g})"
        status = "ok" if self.passed else "FAILED"
        return f"{self.metric} = {self.value:.4g}, required {op} {self.limit:.4g}: {status}{gap}"


@dataclass(frozen=True)
class GateResult:
    passed: bool
    checks: tuple[GateCheck, ...]

    def failures(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        head = "gate passed" if self.passed else f"gate FAILED ({len(self.failures())} check(s))"
        return "\n".join([head, *(f"  - {c.describe()}" for c in self.checks)])

    def reason(self) -> str:
        """One line: the first failed check, or that all passed."""
        failed = self.failures()
        if not failed:
            return "all checks passed"
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        return failed[0].describe() + more

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}


def evaluation_digest(spec: Mapping[str, Any]) -> str:
    """Digest of what a model was scored on (data hashes, evaluator, knobs), as JSON."""
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def evaluate_gate(
    metrics: Mapping[str, float],
    gate: GateConfig,
    champion: Mapping[str, float] | None,
    incomparable: str = "",
) -> GateResult:
    """Check ``metrics`` against absolute bounds and, when there is one, the champion.

    A metric named in the gate but missing from ``metrics`` (or NaN) fails its check.
    ``incomparable`` (why the champion's metrics cannot be set beside these) fails the gate.
    """
    checks: list[GateCheck] = []
    if incomparable:
        checks.append(GateCheck("comparable", "evaluation data", math.nan, math.nan, False, incomparable))

    def value(name: str) -> float:
        v = metrics.get(name)
        return float("nan") if v is None else float(v)

    for name, limit in sorted(gate.minimum.items()):
        v = value(name)
        checks.append(GateCheck("minimum", name, v, limit, not math.isnan(v) and v >= limit))
    for name, limit in sorted(gate.maximum.items()):
        v = value(name)
        checks.append(GateCheck("maximum", name, v, limit, not math.isnan(v) and v <= limit))
    for name, direction in sorted(gate.compare.items()):
        if not champion or champion.get(name) is None:
            continue
        ref = float(champion[name])
        slack = abs(ref) * gate.tolerance
        v = value(name)
        if direction == "higher":
            limit = ref - slack
            ok = not math.isnan(v) and v >= limit
        else:
            limit = ref + slack
            ok = not math.isnan(v) and v <= limit
        checks.append(GateCheck("vs_champion", name, v, limit, ok))
    return GateResult(all(c.passed for c in checks), tuple(checks))


def champion_version(client: Any, name: str) -> Any | None:
    """The model version behind the ``champion`` alias, or None when there is none yet."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def champion_metrics(client: Any, name: str) -> dict[str, float] | None:
    """Metrics of the run that produced the current champion (None without a champion)."""
    version = champion_version(client, name)
    if version is None or not version.run_id:
        return None
    return dict(client.get_run(version.run_id).data.metrics)


def comparable_champion(
    client: Any, name: str, eval_digest: str, rescore: Rescore | None
) -> tuple[dict[str, float] | None, str]:
    """The champion's metrics on this run's evaluation data, or why there are none.

    Returns:
        ``(metrics, "")`` -- the champion's own metrics when it was scored on the same data
        (same ``eval.digest``), else ``rescore``'s on this run's data; ``(None, "")`` when there
        is no champion; ``(None, reason)`` when the comparison is impossible.
    """
    version = champion_version(client, name)
    if version is None:
        return None, ""
    theirs = (version.tags or {}).get(EVAL_DIGEST_TAG, "")
    if theirs and theirs == eval_digest:
        if version.run_id:
            return dict(client.get_run(version.run_id).data.metrics), ""
        return None, f"champion v{version.version} has no MLflow run to read its metrics from"
    what = (
        f"champion v{version.version} was scored on other evaluation data "
        f"({theirs[:12] or 'unrecorded'} vs {eval_digest[:12]})"
    )
    if rescore is None:
        return None, what + " and cannot be re-scored on this run's"
    uri = f"models:/{name}/{version.version}"
    try:
        return dict(rescore(uri)), ""
    except Exception as err:  # any failure makes the comparison impossible: said so
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        return None, f"{what}; re-scoring {uri} on this run's data failed: {first}"


def log_dataset_input(name: str, path: str | Path, digest: str = "", context: str = "evaluation") -> None:
    """Record the file ``path`` as an input of the active run. Its digest is the file's MD5 --
    the hash DVC records for it (in ``dvc.lock``, or in its folder's ``.dir`` listing) -- unless
    ``digest`` is given."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():  # two registered local sources match: MLflow picks one, says so
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(str(Path(path).absolute()))
    digest = digest or sha256_file(path, "md5")
    dataset = MetaDataset(source, name=name, digest=digest[:36])  # type: ignore[abstract]  # profile is optional
    mlflow.log_input(dataset, context=context)


def promote(client: Any, name: str, version: str, result: GateResult) -> str:
    """Give ``version`` the ``champion`` alias when the gate passed, else ``challenger``."""
    alias = CHAMPION if result.passed else CHALLENGER
    client.set_model_version_tag(name, str(version), "gate.passed", str(result.passed).lower())
    client.set_model_version_tag(name, str(version), "gate.summary", result.summary()[:5000])
    client.set_registered_model_alias(name, alias, str(version))
    _audit(client, name, action=f"alias:{alias}", to_version=str(version), reason=result.summary())
    return alias


@dataclass(frozen=True)
class Promotion:
    """What :func:`register_and_gate` did: the version registered and the alias it received."""

    role: str
    registered_name: str
    version: str
    alias: str
    gate: GateResult


def register_and_gate(
    cfg: Config,
    stage: str,
    role: str,
    metrics: Mapping[str, float],
    gate: GateConfig,
    log_model: Callable[[], Any],
    eval_digest: str,
    rescore: Rescore | None = None,
    artifacts: Iterable[str | Path] = (),
    params: Mapping[str, Any] | None = None,
    root: str | Path = ".",
    inputs: Mapping[str, str | Path] | None = None,
    input_context: str = "evaluation",
) -> Promotion:
    """Log a stage's run, register its model, compare it with the champion, promote or raise.

    In one MLflow run of ``stage``: log ``params`` (flattened) and ``metrics``, the report
    files in ``artifacts``, the model (``log_model()`` logs it in the active run and returns
    its model info), register it under the role's name for ``cfg.profile``, check the gate
    against the current champion's metrics on the same evaluation data (``eval_digest`` names
    it; ``rescore`` scores the champion on it when the champion was scored on other data), and
    give the version ``champion`` or ``challenger``. The model is logged once, here: its
    metrics and the gate's verdict (tags ``gate.passed``, ``gate.reason``) are attached to the
    logged model (its ``model_id``) as well as to the run. ``inputs`` (name -> file, its digest
    the MD5 that DVC records for it) are logged as the run's datasets of ``input_context``, so
    the registered version names the data it was scored on.

    Returns:
        The registered version and its alias (``champion``).

    Raises:
        GateFailed: after registering the version as ``challenger``, naming each failed check.
    """
    import mlflow

    from fitting_room.tracking.mlflow_runs import log_flat_params, stage_run

    name = registered_name(role, cfg.profile)
    with stage_run(cfg, stage, root) as run:
        if params:
            log_flat_params(dict(params))
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="reports")
        for dataset, path in (inputs or {}).items():
            log_dataset_input(dataset, path, context=input_context)
        client = mlflow.MlflowClient()
        champion, incomparable = comparable_champion(client, name, eval_digest, rescore)
        if champion is not None:
            mlflow.log_dict(dict(champion), "gate_champion_metrics.json")
        info = log_model()  # the one logging of this model: its metrics and verdict go on it too
        finite = {k: float(v) for k, v in metrics.items() if not math.isnan(v)}
        mlflow.log_metrics(finite, model_id=info.model_id)  # the run's metrics and the model's
        version = str(mlflow.register_model(info.model_uri, name).version)
        client.set_model_version_tag(name, version, EVAL_DIGEST_TAG, eval_digest)
        client.set_model_version_tag(name, version, "profile", cfg.profile)
        result = evaluate_gate(metrics, gate, champion, incomparable)
        alias = promote(client, name, version, result)
        mlflow.log_dict(result.as_dict(), "gate.json")
        verdict = {
            "gate.passed": str(result.passed).lower(),
            "gate.reason": result.reason()[:500],
            "registered_version": version,
            EVAL_DIGEST_TAG: eval_digest,
        }
        mlflow.set_logged_model_tags(info.model_id, verdict)
        mlflow.set_tags({**verdict, "run_id": run.info.run_id})
    if not result.passed:  # raised after the run closed: the run itself finished, the gate refused
        raise GateFailed(
            f"{stage}: {role} version {version} of {name!r} registered as {alias!r}, the champion "
            f"is unchanged: {result.reason()}\n{result.summary()}"
        )
    return Promotion(role, name, version, alias, result)


def rollback(client: Any, name: str, to_version: str, reason: str) -> dict[str, Any]:
    """Move ``champion`` back to ``to_version`` and record who, when and why."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, str(to_version))
    except MlflowException:
        raise FittingRoomError(f"model {name!r} has no version {to_version!r}") from None
    current = champion_version(client, name)
    client.set_registered_model_alias(name, CHAMPION, str(to_version))
    return _audit(
        client,
        name,
        action="rollback",
        to_version=str(to_version),
        from_version=current.version if current is not None else None,
        reason=reason,
    )


def alias_history(client: Any, name: str) -> list[dict[str, Any]]:
    """Audit records of a registered model, oldest first."""
    model = client.get_registered_model(name)
    records = [json.loads(v) for k, v in (model.tags or {}).items() if k.startswith(AUDIT_TAG_PREFIX)]
    return sorted(records, key=lambda r: r["at"])


def _audit(client: Any, name: str, **record: Any) -> dict[str, Any]:
    record = {"at": time.time(), "by": _who(), **record}
    record["reason"] = str(record.get("reason") or "")[:2000]
    key = f"{AUDIT_TAG_PREFIX}{time.time_ns()}"
    client.set_registered_model_tag(name, key, json.dumps(record))
    return record


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
