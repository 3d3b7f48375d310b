"""What every bench result records of its run (when, how long, which machine, under which load, what
else ran), and how a bench script saves its result: atomically, then re-rendering the doc blocks that
read it (render_docs.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from time import perf_counter
from typing import Any

import render_docs

from pytest_qbench import Pipeline


def run_start() -> dict[str, Any]:
    """When a bench script started, and the load it started under (for `run_info`)."""
    return {"when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "began": perf_counter(),
            "load_before": list(os.getloadavg())}


def run_info(start: dict[str, Any], threads: int = 2, beside: str = "") -> dict[str, Any]:
    """When, how long, where, under which load; `beside`: what else ran on the machine meanwhile."""
    return {"when": start["when"], "minutes": (perf_counter() - start["began"]) / 60, "machine": machine(threads),
            "load_before": start["load_before"], "load_after": list(os.getloadavg()), "beside": beside}


def machine(threads: int) -> dict[str, Any]:
    """The CPU (brand, vendor-family-model, hardware key), its cores, the threads used, the libraries: of the
    environment a gate run records here (the pipeline's)."""
    environment = Pipeline().environment(threads=threads)
    return {key: environment.to_json()[key] for key in ("brand", "cpu_model", "hardware_key", "physical_cores",
                                              "logical_cores", "threads", "libraries")}


def save_result(path: Path, result: dict[str, Any]) -> None:
    """Write `result` as JSON to `path` (atomically) and re-render every doc block that reads it."""
    render_docs.atomic_write_text(path, json.dumps(result, indent=1, default=float) + "\n")
    render_docs.refresh(path)
