"""Connecting to Redis, and telling an outage from a bug.

Losing Redis for a while is an outage to wait out: `OUTAGE_ERRORS` names the exceptions that
mean "Redis is not answering right now" (connection refused or reset, a timeout, a server
still loading its append-only file after a restart, a replica during a fail-over), so
callers outside this package can catch them without importing `redis`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from redis import exceptions as rexc
from redis.cluster import ClusterPipeline, RedisCluster

log = logging.getLogger("newsflow.state")

OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    rexc.ConnectionError,  # includes BusyLoadingError (a restarted server reading its AOF)
    rexc.TimeoutError,
    rexc.ReadOnlyError,
    rexc.TryAgainError,
    rexc.ClusterDownError,
    rexc.MasterDownError,
)

Client = redis.Redis


def connect(url: str, *, cluster: bool = False) -> Client:
    """A client for `url` (redis://, rediss:// or unix://) that notices dead sockets quickly.

    With `cluster`, `url` names any node of a Redis Cluster, and the client (redis-py's
    `RedisCluster`, typed here as a `Client`: its commands are the same) finds the others."""
    options: dict[str, Any] = {"health_check_interval": 15, "socket_connect_timeout": 5, "socket_timeout": 30}
    if not url.startswith("unix://"):
        options["socket_keepalive"] = True  # TCP only
    if cluster:
        if url.startswith("unix://"):
            raise ValueError("NEWSFLOW_REDIS_CLUSTER: a cluster is reached over TCP (redis:// or rediss://)")
        return RedisCluster.from_url(url, **options)  # type: ignore[return-value]
    return redis.Redis.from_url(url, **options)


def close(client: Client) -> None:
    """Close the client and its sockets. A cluster client's close leaves each node's connection
    pool open (redis-py hands the nodes' clients a pool they do not own): those are
    disconnected here, so a store closed is a store without sockets."""
    if is_cluster(client):
        for node in client.get_nodes():  # type: ignore[attr-defined]
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()
    client.close()


def is_cluster(client: Client) -> bool:
    """True for a Redis Cluster's client: its keys are spread over slots."""
    return isinstance(client, RedisCluster)


def run_script(pipe: Any, script: Any, keys: list[str], args: list[Any]) -> None:
    """Queue a registered script on a pipeline: by its digest on one Redis; by its text on a
    cluster, whose pipelines refuse EVALSHA.

    On a cluster the script names the node of its keys' slot itself: left to find it, redis-py's
    cluster pipeline (8.x) asks a node `COMMAND GETKEYS` for every EVAL it queues, one more
    round trip per script (a fifth of the state's time in `bench/redis_memory.py --cluster`).
    A slot that has moved meanwhile still answers MOVED, and the pipeline follows it."""
    if isinstance(pipe, ClusterPipeline):
        node = pipe.get_node_from_key(keys[0])  # type: ignore[no-untyped-call]
        pipe.execute_command("EVAL", script.script, len(keys), *keys, *args, target_nodes=node)  # type: ignore[no-untyped-call]
    else:
        script(keys=keys, args=args, client=pipe)


def ping(client: Client) -> bool:
    """PING the Redis, or every primary of a cluster (one whose node is down does not answer)."""
    if is_cluster(client):
        return bool(client.ping(target_nodes=RedisCluster.PRIMARIES))
    return bool(client.ping())


def batch(client: Client) -> Any:
    """A transaction on one Redis; on a cluster, where the keys it touches may lie in several
    slots, a pipeline (each command applies on its own)."""
    return client.pipeline(transaction=not is_cluster(client))


def text(value: bytes | str) -> str:
    """A Redis reply as text (the clients here return bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def is_outage(exc: BaseException) -> bool:
    """True when `exc`, or what caused it, says Redis is unreachable for now."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, OUTAGE_ERRORS):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def describe(url: str) -> str:
    """The server part of a Redis URL, without credentials, for messages."""
    if url.startswith("unix://"):
        return url
    rest = url.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1]


def wait_until_available(
    client: Client,
    patience: float,
    *,
    what: str = "Redis",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[float, BaseException], Any] | None = None,
) -> bool:
    """Ping until Redis answers (True) or `patience` seconds pass (False).

    Waits back off from 0.2 s to 5 s; every wait is reported to `on_wait` (seconds waited so
    far, last error) and logged about every 10 s, so an operator sees why nothing moves.
    """
    start = clock()
    delay = 0.2
    last_log = -10.0
    while True:
        try:
            ping(client)
            return True
        except OUTAGE_ERRORS as exc:
            waited = clock() - start
            if on_wait is not None:
                on_wait(waited, exc)
            if waited - last_log >= 10.0:
                log.warning(
                    "%s is unavailable (%s); waiting (%.0f s so far, up to %.0f s)", what, exc, waited, patience
                )
                last_log = waited
            if waited >= patience:
                return False
            sleep(min(delay, max(0.05, patience - waited)))
            delay = min(5.0, delay * 2)
