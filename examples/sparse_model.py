"""Sparse versions of the CoNLL example model, as Intel's "Fast DistilBERT on CPUs" builds them: the
encoder's linear weights pruned by magnitude, unstructured, then a short recovery fine-tune that distils
from the dense model.

    python examples/sparse_model.py    # both levels, 50% and 80%; trained once per machine and cached

Each level: `torch.nn.utils.prune.l1_unstructured` zeroes the smallest `sparsity` of every encoder
Linear's weights (each layer alike: the paper prunes every layer to one level); then `steps` batches of
CoNLL-2003 train sentences with the masks held fixed, on a loss that mixes the labels' cross-entropy
with the KL divergence to the dense model's softened predictions (temperature 2, Hinton et al.); then
the masks are made permanent. The dense model is examples/conll_model.py's, trained first if need be.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conll_model import TRAIN_FILE, VALID_FILE, Recipe, collate, encode, ensure_model, evaluate, load_split
from conll_model import fingerprint as dense_fingerprint
from training import (
    Schedule,
    amx_bf16,
    bf16_fingerprint,
    cached_model,
    length_batches,
    physical_cores,
    print_summary,
    save,
    seed_everything,
)

MODEL_PREFIX = "conll2003-minilm-sparse"
LEVELS = (0.5, 0.8)


@dataclass(frozen=True)
class SparseRecipe:
    """Everything that decides the sparse weights; the cache key hashes it with the dense model's."""

    sparsity: float  # of every encoder Linear's weights
    steps: int = 200  # recovery batches: about 3 min on 2 cores
    learning_rate: float = 1e-4
    temperature: float = 2.0
    distillation: float = 0.5  # the KL term's weight; the labels' cross-entropy has the rest
    batch_size: int = 32
    seed: int = 42
    dense: Recipe = Recipe()


def model_prefix(recipe: SparseRecipe) -> str:
    return f"{MODEL_PREFIX}{round(recipe.sparsity * 100)}"


def fingerprint(recipe: SparseRecipe) -> dict[str, Any]:
    return {"recipe": asdict(recipe), "dense": dense_fingerprint(recipe.dense), **bf16_fingerprint(amx_bf16())}


def ensure_sparse_model(recipe: SparseRecipe, cache_root: Path | None = None) -> Path:
    """The sparse model's folder, pruning and recovering it first if this machine has none yet."""
    return cached_model(
        model_prefix(recipe), fingerprint(recipe), lambda folder: train(recipe, folder, cache_root), cache_root
    )


def encoder_linears(model: Any) -> list[Any]:
    import torch

    return [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".encoder." in f".{name}."]


def weight_sparsity(model: Any) -> float:
    """The fraction of exact zeros in the encoder's Linear weights."""
    weights = [m.weight for m in encoder_linears(model)]
    return float(sum((w == 0).sum().item() for w in weights) / sum(w.numel() for w in weights))


def prune_encoder(model: Any, sparsity: float) -> None:
    """Mask the smallest `sparsity` of every encoder Linear's weights (l1, unstructured, each layer alike)."""
    from torch.nn.utils import prune

    for linear in encoder_linears(model):
        prune.l1_unstructured(linear, "weight", amount=sparsity)


def make_permanent(model: Any) -> None:
    """Fold the pruning masks into the weights: the zeros stay, the masks go."""
    from torch.nn.utils import prune

    for linear in encoder_linears(model):
        prune.remove(linear, "weight")


@dataclass(frozen=True)
class Distillation:
    """The recovery's settings, whatever the task."""

    learning_rate: float
    temperature: float
    distillation: float  # the soft term's weight; the labels' loss has the rest
    bf16: bool = False  # autocast the forward passes (training.amx_bf16 says where the demo's models do)


def distil(
    student: Any, teacher: Any, batches: Iterable[dict[str, Any]], labels: tuple[str, ...],
    soft_loss: Callable[[Any, Any, dict[str, Any], float], Any], settings: Distillation, desc: str,
) -> list[float]:
    """One pass over `batches` (the model's keyword arguments, `labels` among them) with the pruning
    masks held (they multiply the weights): the labels' loss mixed with `soft_loss(student_out,
    teacher_out, batch, temperature)`, the divergence from the teacher's softened predictions."""
    import torch

    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=settings.learning_rate)
    losses = []
    student.train()
    for batch in tqdm_batches(batches, desc):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
            with torch.no_grad():
                teacher_out = teacher(**{k: v for k, v in batch.items() if k not in labels})
            out = student(**batch)
            soft = soft_loss(out, teacher_out, batch, settings.temperature)
            loss = (1 - settings.distillation) * out.loss + settings.distillation * soft
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def tqdm_batches(batches: Iterable[dict[str, Any]], desc: str) -> Iterable[dict[str, Any]]:
    from tqdm.auto import tqdm

    return tqdm(batches, desc=desc, unit="batch", total=len(batches) if isinstance(batches, list) else None)


def softened_kl(student_logits: Any, teacher_logits: Any, temperature: float) -> Any:
    """KL(teacher || student) of the temperature-softened distributions over the last axis, per row,
    scaled by T² (Hinton et al.); rows are what the caller selected."""
    import torch.nn.functional as F

    t = temperature
    return F.kl_div(F.log_softmax(student_logits / t, dim=-1), F.softmax(teacher_logits / t, dim=-1),
                    reduction="batchmean") * t * t


def _token_kl(out: Any, teacher_out: Any, batch: dict[str, Any], temperature: float) -> Any:
    scored = batch["labels"] != -100
    return softened_kl(out.logits[scored], teacher_out.logits[scored], temperature)


def train(recipe: SparseRecipe, out_dir: Path, cache_root: Path | None = None) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    dense_dir = ensure_model(recipe.dense, cache_root)
    seed_everything(recipe.seed)
    torch.set_num_threads(physical_cores())
    tokenizer = AutoTokenizer.from_pretrained(dense_dir)
    teacher = AutoModelForTokenClassification.from_pretrained(dense_dir).eval()
    student = AutoModelForTokenClassification.from_pretrained(dense_dir)
    prune_encoder(student, recipe.sparsity)
    pruned = evaluate(student, tokenizer, load_split(VALID_FILE), recipe.dense.max_length)
    started = time.perf_counter()
    losses = _recover(student, teacher, tokenizer, recipe)
    make_permanent(student)
    scores = evaluate(student, tokenizer, load_split(VALID_FILE), recipe.dense.max_length)
    return save(student, tokenizer, out_dir, {
        "recipe": asdict(recipe), "weight_sparsity": weight_sparsity(student), "validation_pruned": pruned,
        "epochs": round(recipe.steps * recipe.batch_size / 14041, 3), "steps": recipe.steps, "final_loss": losses[-1],
        "train_seconds": round(time.perf_counter() - started, 1), "bf16_autocast": amx_bf16(), "validation": scores,
    })


def _recover(student: Any, teacher: Any, tokenizer: Any, recipe: SparseRecipe) -> list[float]:
    """`recipe.steps` batches of CoNLL-2003 train sentences, distilled token by token."""
    features = encode(tokenizer, load_split(TRAIN_FILE), recipe.dense.max_length)
    schedule = Schedule(epochs=1, learning_rate=recipe.learning_rate, batch_size=recipe.batch_size, seed=recipe.seed)
    order = length_batches([len(f["input_ids"]) for f in features], schedule, random.Random(recipe.seed))
    batches = [collate(features, indices, tokenizer.pad_token_id) for indices in order[: recipe.steps]]
    settings = Distillation(recipe.learning_rate, recipe.temperature, recipe.distillation, bf16=amx_bf16())
    return distil(
        student, teacher, batches, ("labels",), _token_kl, settings, f"recovering {recipe.sparsity:.0%} sparse"
    )


if __name__ == "__main__":
    for level in LEVELS:
        print_summary(ensure_sparse_model(SparseRecipe(level)))
