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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conll_model import TRAIN_FILE, VALID_FILE, Recipe, collate, encode, ensure_model, evaluate, load_split
from conll_model import fingerprint as dense_fingerprint
from training import Schedule, cached_model, length_batches, physical_cores, print_summary, save, seed_everything

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


def ensure_sparse_model(recipe: SparseRecipe, cache_root: Path | None = None) -> Path:
    """The sparse model's folder, pruning and recovering it first if this machine has none yet."""
    fingerprint = {"recipe": asdict(recipe), "dense": dense_fingerprint(recipe.dense)}
    prefix = f"{MODEL_PREFIX}{round(recipe.sparsity * 100)}"
    return cached_model(prefix, fingerprint, lambda folder: train(recipe, folder, cache_root), cache_root)


def encoder_linears(model: Any) -> list[Any]:
    import torch

    return [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".encoder." in f".{name}."]


def weight_sparsity(model: Any) -> float:
    """The fraction of exact zeros in the encoder's Linear weights."""
    weights = [m.weight for m in encoder_linears(model)]
    return float(sum((w == 0).sum().item() for w in weights) / sum(w.numel() for w in weights))


def train(recipe: SparseRecipe, out_dir: Path, cache_root: Path | None = None) -> dict[str, Any]:
    import torch
    from torch.nn.utils import prune
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    dense_dir = ensure_model(recipe.dense, cache_root)
    seed_everything(recipe.seed)
    torch.set_num_threads(physical_cores())
    tokenizer = AutoTokenizer.from_pretrained(dense_dir)
    teacher = AutoModelForTokenClassification.from_pretrained(dense_dir).eval()
    student = AutoModelForTokenClassification.from_pretrained(dense_dir)
    for linear in encoder_linears(student):
        prune.l1_unstructured(linear, "weight", amount=recipe.sparsity)
    pruned = evaluate(student, tokenizer, load_split(VALID_FILE), recipe.dense.max_length)
    started = time.perf_counter()
    losses = _recover(student, teacher, tokenizer, recipe)
    for linear in encoder_linears(student):
        prune.remove(linear, "weight")
    scores = evaluate(student, tokenizer, load_split(VALID_FILE), recipe.dense.max_length)
    return save(student, tokenizer, out_dir, {
        "recipe": asdict(recipe), "weight_sparsity": weight_sparsity(student), "validation_pruned": pruned,
        "epochs": round(recipe.steps * recipe.batch_size / 14041, 3), "steps": recipe.steps, "final_loss": losses[-1],
        "train_seconds": round(time.perf_counter() - started, 1), "validation": scores,
    })


def _recover(student: Any, teacher: Any, tokenizer: Any, recipe: SparseRecipe) -> list[float]:
    """`recipe.steps` batches of distillation with the pruning masks held (they multiply the weights)."""
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    features = encode(tokenizer, load_split(TRAIN_FILE), recipe.dense.max_length)
    schedule = Schedule(epochs=1, learning_rate=recipe.learning_rate, batch_size=recipe.batch_size, seed=recipe.seed)
    batches = length_batches([len(f["input_ids"]) for f in features], schedule, random.Random(recipe.seed))
    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=recipe.learning_rate)
    t = recipe.temperature
    losses = []
    student.train()
    for indices in tqdm(batches[: recipe.steps], desc=f"recovering {recipe.sparsity:.0%} sparse", unit="batch"):
        batch = collate(features, indices, tokenizer.pad_token_id)
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        with torch.no_grad():
            soft = F.softmax(teacher(**inputs).logits / t, dim=-1)
        out = student(**inputs, labels=batch["labels"])
        scored = batch["labels"] != -100
        kl = F.kl_div(F.log_softmax(out.logits / t, dim=-1)[scored], soft[scored], reduction="batchmean") * t * t
        loss = (1 - recipe.distillation) * out.loss + recipe.distillation * kl
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


if __name__ == "__main__":
    for level in LEVELS:
        print_summary(ensure_sparse_model(SparseRecipe(level)))
