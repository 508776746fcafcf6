"""What one request costs the stack, counted inside the gunicorn worker (benchmark only).

bench/settings.py puts `CountingMiddleware` outermost; production settings never load this
module. For each request it counts, and answers in `X-Bench-*` response headers:

- SQL statements sent to PostgreSQL (every `cursor.execute`, savepoints included);
- commits: explicit COMMITs (an `atomic` block ending) plus writes made in autocommit mode,
  each of which PostgreSQL commits on its own (and flushes its log for);
- PostgreSQL round trips: statements + explicit COMMITs and ROLLBACKs;
- Redis round trips: commands, a pipeline or a script counting once;
- Omise calls and the seconds spent waiting on them, so the benchmark subtracts the sandbox's
  latency request by request instead of from a separate measurement;
- the seconds spent in PostgreSQL calls (statements, commits: the driver's round trip and
  the server's work) and in Redis calls, the rest of the server's time being Python.

The patches below wrap methods the request path already calls; they add a few microseconds to
every request on both sides of each comparison.
"""

import threading
import time

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

_local = threading.local()
_WRITES = ("INSERT", "UPDATE", "DELETE")


class Tally:
    __slots__ = (
        "sql",
        "commits",
        "rollbacks",
        "autocommits",
        "redis",
        "omise",
        "omise_seconds",
        "pg_seconds",
        "redis_seconds",
    )

    def __init__(self) -> None:
        self.sql = self.commits = self.rollbacks = self.autocommits = 0
        self.redis = self.omise = 0
        self.omise_seconds = self.pg_seconds = self.redis_seconds = 0.0


def _tally() -> Tally | None:
    return getattr(_local, "tally", None)


def _count_sql(execute, sql, params, many, context):
    if (tally := _tally()) is None:
        return execute(sql, params, many, context)
    tally.sql += 1
    if context["connection"].get_autocommit() and sql.lstrip()[:6].upper() in _WRITES:
        tally.autocommits += 1
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        tally.pg_seconds += time.perf_counter() - started


def _wrap(cls, name: str, count, clock: str = "") -> None:
    """Count calls of `cls.name` in the request's tally (and time them into `clock`)."""
    original = getattr(cls, name)
    if getattr(original, "_bench_wrapped", False):
        return

    def wrapper(self, *args, **kwargs):
        if (tally := _tally()) is None:
            return original(self, *args, **kwargs)
        counted = count(self, tally)
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            if clock and counted is not False:
                setattr(tally, clock, getattr(tally, clock) + time.perf_counter() - started)

    wrapper._bench_wrapped = True  # type: ignore[attr-defined]
    setattr(cls, name, wrapper)


def _patch() -> None:
    from redis.client import Pipeline, Redis

    from checkout.omise import OmiseClient

    def commit(self, tally):
        tally.commits += 1

    def rollback(self, tally):
        tally.rollbacks += 1

    def redis_command(self, tally):
        if isinstance(self, Pipeline):  # a pipeline's commands go out in execute()
            return False
        tally.redis += 1
        return True

    def redis_pipeline(self, tally):
        tally.redis += 1

    _wrap(BaseDatabaseWrapper, "commit", commit, "pg_seconds")
    _wrap(BaseDatabaseWrapper, "rollback", rollback, "pg_seconds")
    _wrap(Redis, "execute_command", redis_command, "redis_seconds")
    _wrap(Pipeline, "execute", redis_pipeline, "redis_seconds")

    request = OmiseClient._request
    if not getattr(request, "_bench_wrapped", False):

        def timed(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return request(self, *args, **kwargs)
            finally:
                if (tally := _tally()) is not None:
                    tally.omise += 1
                    tally.omise_seconds += time.perf_counter() - started

        timed._bench_wrapped = True  # type: ignore[attr-defined]
        OmiseClient._request = timed  # type: ignore[method-assign]


class CountingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        _patch()

    def __call__(self, request):
        _local.tally = tally = Tally()
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(_count_sql):
                response = self.get_response(request)
        finally:
            _local.tally = None
        elapsed = time.perf_counter() - started
        response["X-Bench-SQL"] = str(tally.sql)
        response["X-Bench-Commits"] = str(tally.commits + tally.autocommits)
        response["X-Bench-PG-Round-Trips"] = str(tally.sql + tally.commits + tally.rollbacks)
        response["X-Bench-Redis"] = str(tally.redis)
        response["X-Bench-Omise"] = str(tally.omise)
        response["X-Bench-Omise-Seconds"] = f"{tally.omise_seconds:.6f}"
        response["X-Bench-Server-Seconds"] = f"{elapsed - tally.omise_seconds:.6f}"
        response["X-Bench-PG-Seconds"] = f"{tally.pg_seconds:.6f}"
        response["X-Bench-Redis-Seconds"] = f"{tally.redis_seconds:.6f}"
        return response
