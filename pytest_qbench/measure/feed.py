"""What an ONNX model is fed: the int64 arrays it takes from a tokenizer's encoding, in batches of similar
length. Shared by the data loaders (data.py), the tasks (tasks.py) and SQuAD's windows (squad.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import QbenchDataError

if TYPE_CHECKING:
    import numpy


def length_sorted_batches(lengths: Sequence[int], size: int) -> Iterator[list[int]]:
    """Indices in batches of similar token counts, so padding per batch costs almost nothing."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for start in range(0, len(order), size):
        yield order[start : start + size]


def model_feed(encoding: Mapping[str, Any], input_names: Sequence[str]) -> dict[str, numpy.ndarray]:
    """The int64 arrays an ONNX model takes, from a tokenizer's (numpy) encoding."""
    import numpy as np

    missing = [name for name in input_names if name not in encoding]
    if missing:
        raise QbenchDataError(
            f"the model takes inputs {list(input_names)} but the tokenizer gives {list(encoding)};"
            f" missing: {missing}"
        )
    return {name: np.asarray(encoding[name], dtype=np.int64) for name in input_names}
