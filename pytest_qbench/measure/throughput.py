"""Throughput under a latency budget, the production metric of Intel's "Fast DistilBERT on CPUs": the
highest throughput (sequences per second) whose p90 wall latency per request stays within a budget.

For each stream count s from 1 to the case's threads, s sessions of threads // s threads each serve
requests concurrently (one Python thread per stream: ONNX Runtime and OpenVINO release the GIL while
they infer), for `budget_seconds`, at batch sizes 1, 2, 4, ... until a batch's p90 exceeds the budget
(a larger batch only takes longer). Every request's wall time counts toward the p90; the throughput is
the sequences served over the elapsed wall time. Wall time: on a shared runner a neighbour's load moves
it, which is why it is gated only where a team sets `throughput_rtol`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import perf_counter

import numpy as np

from ..results import BudgetPoint, BudgetThroughput
from .inference_session import InferenceSession

MAX_BATCH = 64
WARMUP_CALLS = 2

# (threads per stream) -> a fresh session of the model; (batch size) -> its inputs
SessionFactory = Callable[[int], InferenceSession]
InputsFor = Callable[[int], dict[str, np.ndarray]]


def budget_throughput(make_session: SessionFactory, inputs_for: InputsFor, *, budget_ms: float, threads: int,
                      seconds: float) -> BudgetThroughput:
    """Search batch sizes and stream counts for the highest throughput within `budget_ms` at p90."""
    points = []
    for streams in range(1, threads + 1):
        sessions = [make_session(threads // streams) for _ in range(streams)]
        batch_size = 1
        while batch_size <= MAX_BATCH:
            point = _serve(sessions, inputs_for(batch_size), batch_size, seconds)
            points.append(point)
            if point.p90_ms > budget_ms:
                break
            batch_size *= 2
    within = [p for p in points if p.p90_ms <= budget_ms]
    return BudgetThroughput(max(within, key=lambda p: p.throughput) if within else None, points)


def _serve(
    sessions: list[InferenceSession], inputs: dict[str, np.ndarray], batch_size: int, seconds: float
) -> BudgetPoint:
    """Every session serves requests of `inputs` concurrently for `seconds`."""
    latencies: list[list[float]] = [[] for _ in sessions]
    start_line = threading.Barrier(len(sessions) + 1)
    stop = threading.Event()

    def serve(session: InferenceSession, times: list[float]) -> None:
        feed = {i.name: inputs[i.name] for i in session.get_inputs()}
        for _ in range(WARMUP_CALLS):
            session.run(None, feed)
        start_line.wait()
        while True:  # at least one request per stream: a window can close before a busy CPU schedules one
            t0 = perf_counter()
            session.run(None, feed)
            times.append(perf_counter() - t0)
            if stop.is_set():
                break

    workers = [threading.Thread(target=serve, args=(s, t)) for s, t in zip(sessions, latencies, strict=True)]
    for worker in workers:
        worker.start()
    start_line.wait()
    began = perf_counter()
    stop.wait(seconds)  # the serving window; then each stream finishes the request it is in
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = perf_counter() - began
    times = np.concatenate([np.array(t) for t in latencies])
    return BudgetPoint(batch_size=batch_size, streams=len(sessions), p90_ms=float(np.percentile(times, 90)) * 1e3,
                       throughput=len(times) * batch_size / elapsed, requests=len(times))
