"""A neighbour process per core for the length of a block: CPU-bound (`cpu`) or switching on and off at
random every 0.05-0.5 s (`bursty`); `idle` starts none. The processes also stop by themselves at a
deadline, should the bench script die without stopping them."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np


def _burn(deadline: float, bursty: bool, seed: int) -> None:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    a = np.random.default_rng(seed).random((256, 256))
    rng = random.Random(seed)
    while time.time() < deadline:
        until = time.time() + (rng.uniform(0.05, 0.5) if bursty else 1.0)
        while time.time() < min(until, deadline):
            a @ a
        if bursty:
            time.sleep(rng.uniform(0.05, 0.5))


@contextmanager
def neighbour(condition: str, seconds: float) -> Iterator[None]:
    """Load the machine as `condition` says while the block runs; the processes also stop by
    themselves after `seconds`, should this one die without stopping them."""
    workers = []
    if condition != "idle":
        deadline = time.time() + seconds
        ctx = mp.get_context("spawn")
        workers = [ctx.Process(target=_burn, args=(deadline, condition == "bursty", i), daemon=True)
                   for i in range(os.cpu_count() or 1)]
        for w in workers:
            w.start()
        time.sleep(0.5)
    try:
        yield
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.join()
