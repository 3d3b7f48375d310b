"""Which clock should the latency gate read? Four candidate signals under three loads (issue 11).

    .venv/bin/python bench/latency_signals.py > bench/results/latency-signals.md

For each load condition of bench/latency_gate.py (idle, CPU-bound neighbour, bursty neighbour) and
each signal, two sessions of the example's fp32 model at one shape are called alternately in ABBA
order for a fixed number of pairs, and the table reports the per-pair sigma of log(B / A) (robust:
1.4826 x MAD) and the median time per call. Two sessions of one model differ by nothing, so the
sigma is pure measurement noise; the median per call shows how much load moves the signal itself.

  wall, all cores           perf_counter around a call, intra-op threads = physical cores
  wall, 1 thread            perf_counter, one intra-op thread
  thread cpu, 1 thread      time.thread_time_ns, one intra-op thread (no pool: all work on this thread)
  process cpu, all cores    time.process_time_ns, all cores, session.intra_op.allow_spinning = 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from time import perf_counter_ns, process_time_ns, thread_time_ns
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_gate import CONDITIONS, neighbour  # noqa: E402
from measurement import Shape, load_setup  # noqa: E402

from conll_model import ensure_model  # noqa: E402
from pytest_qbench.config import TimingSpec  # noqa: E402
from pytest_qbench.latency import make_session  # noqa: E402

SIGNALS: dict[str, tuple[Callable[[], int], int | None, dict[str, str]]] = {
    "wall, all cores": (perf_counter_ns, None, {}),
    "wall, 1 thread": (perf_counter_ns, 1, {}),
    "thread cpu, 1 thread": (thread_time_ns, 1, {}),
    "process cpu, all cores": (process_time_ns, None, {"session.intra_op.allow_spinning": "0"}),
}


def pairs(sessions: tuple[Any, Any], feed: dict[str, np.ndarray], clock: Callable[[], int], n: int) -> np.ndarray:
    """Per-call times of A and B, n pairs in ABBA order, as an (n, 2) array."""
    out = np.zeros((n, 2))
    for i in range(n):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for side in order:
            t0 = clock()
            sessions[side].run(None, feed)
            out[i, side] = clock() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="1x128")
    parser.add_argument("--pairs", type=int, default=150)
    args = parser.parse_args()
    setup = load_setup(ensure_model(), None, TimingSpec())
    shape = Shape.parse(args.shape)
    rows = []
    for condition in CONDITIONS:
        with neighbour(condition, seconds=600):
            for name, (clock, threads, config) in SIGNALS.items():
                sessions = tuple(make_session(setup.onnx, threads, config) for _ in range(2))
                feed = setup.feed(sessions[0], shape)
                for session in sessions:
                    for _ in range(5):
                        session.run(None, feed)
                times = pairs(sessions, feed, clock, args.pairs)
                logs = np.log(times[:, 1] / times[:, 0])
                sigma = 1.4826 * np.median(np.abs(logs - np.median(logs)))
                rows.append([condition, name, f"{sigma:.3f}", f"{np.median(times) / 1e6:.2f}"])
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    header = ["load", "signal", "per-pair σ of log(B/A)", "median per call, ms"]
    lines = [header, ["---"] * len(header), *rows]
    print(f"Shape {shape}, {args.pairs} pairs per cell, two sessions of the fp32 model.\n")
    print("\n".join("| " + " | ".join(line) + " |" for line in lines))


if __name__ == "__main__":
    main()
