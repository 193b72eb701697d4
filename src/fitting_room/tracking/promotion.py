"""Promotion of model versions: quality gates and MLflow registry aliases, one mechanism for
every model we ship.

A new model version becomes ``champion`` only when it passes absolute thresholds and is
no worse than the current champion beyond a tolerance; otherwise it is ``challenger`` and
the champion is untouched. :func:`register_and_gate` does all of it for a training stage.
Rollbacks move ``champion`` back and leave an audit record.
"""

from __future__ import annotations

import getpass
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fitting_room.config import Config
from fitting_room.config.gate import GateConfig
from fitting_room.errors import FittingRoomError, GateFailed
from fitting_room.tracking.roles import registered_name

CHAMPION = "champion"
CHALLENGER = "challenger"
AUDIT_TAG_PREFIX = "audit."


@dataclass(frozen=True)
class GateCheck:
    name: str  # "minimum", "maximum" or "vs_champion"
    metric: str
    value: float
    limit: float
    passed: bool

    def describe(self) -> str:
        op = {"minimum": ">=", "maximum": "<="}.get(self.name, "within tolerance of champion")
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

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}


def evaluate_gate(
    metrics: Mapping[str, float], gate: GateConfig, champion: Mapping[str, float] | None
) -> GateResult:
    """Check ``metrics`` against absolute bounds and, when there is one, the champion.

    A metric named in the gate but missing from ``metrics`` (or NaN) fails its check.
    """
    checks: list[GateCheck] = []

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
    artifacts: Iterable[str | Path] = (),
    params: Mapping[str, Any] | None = None,
    root: str | Path = ".",
) -> Promotion:
    """Log a stage's run, register its model, compare it with the champion, promote or raise.

    In one MLflow run of ``stage``: log ``params`` (flattened) and ``metrics``, the report
    files in ``artifacts``, the model (``log_model()`` logs it in the active run and returns
    its model info), register it under the role's name, check the gate against the current
    champion's metrics, and give the version ``champion`` or ``challenger``.

    Returns:
        The registered version and its alias (``champion``).

    Raises:
        GateFailed: after registering the version as ``challenger``, naming each failed check.
    """
    import mlflow

    from fitting_room.tracking.mlflow_runs import log_flat_params, stage_run

    name = registered_name(role)
    with stage_run(cfg, stage, root) as run:
        if params:
            log_flat_params(dict(params))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if not math.isnan(v)})
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="reports")
        client = mlflow.MlflowClient()
        champion = champion_metrics(client, name)
        info = log_model()
        version = str(mlflow.register_model(info.model_uri, name).version)
        result = evaluate_gate(metrics, gate, champion)
        alias = promote(client, name, version, result)
        mlflow.log_dict(result.as_dict(), "gate.json")
        mlflow.set_tags(
            {
                "gate.passed": str(result.passed).lower(),
                "registered_version": version,
                "run_id": run.info.run_id,
            }
        )
    if not result.passed:  # raised after the run closed: the run itself finished, the gate refused
        raise GateFailed(
            f"{stage}: {role} version {version} of {name!r} registered as {alias!r}; "
            f"the champion is unchanged.\n{result.summary()}"
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
