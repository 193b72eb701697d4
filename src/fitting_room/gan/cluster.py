"""Which training process is this: alone, or one worker of a data-parallel cluster.

A cluster comes from ``gan.cluster.workers`` in params or, when that list is empty, from the
``TF_CONFIG`` environment variable that Kubernetes operators and TensorFlow launchers set. The
workers then train one model with ``tf.distribute.MultiWorkerMirroredStrategy``: each takes
its share of every global batch and the gradients are summed across workers, so every worker
holds the same weights after every step.

Two decisions cannot be left to each worker, or they would disagree and one would wait for
the others forever in the next all-reduce: the starting state (the chief's checkpoint, or
its fresh weights) and the wall clock the budget is measured on (the chief's). Both are
broadcast here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fitting_room.config.gan import ClusterConfig
from fitting_room.errors import FittingRoomError


@dataclass(frozen=True)
class Cluster:
    workers: tuple[str, ...]  # host:port of each worker; 0 is the chief
    task_index: int  # this process
    peer_timeout_s: float = 60.0

    @property
    def is_chief(self) -> bool:
        return self.task_index == 0

    @property
    def size(self) -> int:
        return len(self.workers)

    def describe(self, index: int) -> str:
        """``worker 1 (10.0.0.7:2222)``: how errors name a worker."""
        return f"worker {index} ({self.workers[index]})"


def resolve_cluster(cfg: ClusterConfig, environ: Mapping[str, str] | None = None) -> Cluster | None:
    """The cluster this process belongs to, or None to train alone (the default).

    Args:
        cfg: ``gan.cluster`` from params; its ``workers``, when set, win over ``TF_CONFIG``.
        environ: where ``TF_CONFIG`` is read (default: ``os.environ``).

    Raises:
        FittingRoomError: ``TF_CONFIG`` is not JSON, names no cluster, or gives a task type
            other than ``chief``/``worker`` (parameter servers and evaluators are not used here).
    """
    if cfg.workers:
        cluster = Cluster(tuple(cfg.workers), cfg.task_index, cfg.peer_timeout_s)
        return cluster if cluster.size > 1 else None
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        spec = json.loads(text)
        jobs, task = spec["cluster"], spec["task"]
        chief, workers = list(jobs.get("chief", [])), list(jobs.get("worker", []))
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise FittingRoomError(
            f"TF_CONFIG: expected {{'cluster': {{'worker': [host:port, ...]}}, 'task': "
            f"{{'type': 'worker', 'index': i}}}} ({type(err).__name__}: {err})"
        ) from None
    unknown = sorted(set(jobs) - {"chief", "worker"})
    if unknown or kind not in ("chief", "worker"):
        raise FittingRoomError(
            f"TF_CONFIG: only 'chief' and 'worker' tasks train the GAN "
            f"(got jobs {sorted(jobs)}, task {kind!r})"
        )
    everyone = tuple(chief + workers)  # a separate chief job trains too: it becomes worker 0
    position = index if kind == "chief" else len(chief) + index
    if len(set(everyone)) != len(everyone) or not 0 <= position < len(everyone):
        raise FittingRoomError(f"TF_CONFIG: task {kind}:{index} is not one of {list(everyone)}")
    return Cluster(everyone, position, cfg.peer_timeout_s) if len(everyone) > 1 else None


def multi_worker_strategy(cluster: Cluster) -> Any:
    """``MultiWorkerMirroredStrategy`` over ``cluster``, with every local GPU as a replica.

    Must run before any other TensorFlow op in the process (the collective-ops server is
    part of the runtime's start-up). Peers are watched by TensorFlow's coordination service:
    a worker silent for ``peer_timeout_s`` fails every other worker's pending collective.
    """
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context  # the heartbeat timeout has no public setter

    gpus = tf.config.list_physical_devices("GPU")
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec({"worker": list(cluster.workers)}),
        task_type="worker",
        task_id=cluster.task_index,
        num_accelerators={"GPU": len(gpus)} if gpus else None,
        rpc_layer="grpc",
    )
    timeout_ms = int(cluster.peer_timeout_s * 1000)
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader="/job:worker/replica:0/task:0",
        heartbeat_timeout_in_ms=timeout_ms,
        shutdown_barrier_timeout_in_ms=timeout_ms,
        coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name="worker", num_tasks=cluster.size)],
    )
    implementation = (
        tf.distribute.experimental.CommunicationImplementation.NCCL
        if gpus
        else tf.distribute.experimental.CommunicationImplementation.RING
    )
    options = tf.distribute.experimental.CommunicationOptions(implementation=implementation)
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver, communication_options=options)


def broadcast_from_chief(strategy: Any, variables: list[Any]) -> None:
    """Give every replica the chief's values of ``variables``: one sum of (chief's copy, zeros...).

    Run by every worker at the same point. Values travel as float64, exact for float32 weights
    and for the integer counters and RNG state (all below 2**53).
    """
    import tensorflow as tf

    @tf.function
    def chief_values() -> Any:
        ctx = tf.distribute.get_replica_context()
        first = tf.equal(ctx.replica_id_in_sync_group, 0)
        values = [tf.where(first, tf.cast(v, tf.float64), tf.zeros(v.shape, tf.float64)) for v in variables]
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, values)

    summed = strategy.run(chief_values)
    for variable, value in zip(variables, summed, strict=True):
        variable.assign(tf.cast(strategy.experimental_local_results(value)[0], variable.dtype))


def chief_reading(strategy: Any) -> Callable[[float], float]:
    """A function every worker calls with its own reading and that returns the chief's."""
    import tensorflow as tf

    @tf.function
    def chief_only(x: Any) -> Any:
        ctx = tf.distribute.get_replica_context()
        return ctx.all_reduce(
            tf.distribute.ReduceOp.SUM, tf.where(tf.equal(ctx.replica_id_in_sync_group, 0), x, 0.0)
        )

    def agree(value: float) -> float:
        out = strategy.run(chief_only, args=(tf.constant(value, tf.float64),))
        return float(strategy.experimental_local_results(out)[0])

    return agree


def peer_failure(cluster: Cluster, err: BaseException) -> FittingRoomError:
    """A readable error for a collective that failed because a peer went away."""
    found = re.findall(r"/job:(?:worker|chief)/replica:0/task:(\d+)", str(err))
    peers = sorted({int(i) for i in found if int(i) != cluster.task_index and int(i) < cluster.size})
    who = ", ".join(cluster.describe(i) for i in peers) or "a peer (TensorFlow did not say which)"
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    # TensorFlow's first line is often just "Graph execution error:"; the line naming a task says more
    telling = next((line for line in lines if "task:" in line), lines[0] if lines else "")
    return FittingRoomError(
        f"training across workers failed on {cluster.describe(cluster.task_index)}: lost {who}; "
        f"restart all {cluster.size} workers to resume from the chief's last checkpoint "
        f"({type(err).__name__}: {telling[:300]})"
    )
