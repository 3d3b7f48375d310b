"""Extractive question answering as SQuAD v1.1 poses it: its JSON files, windows over long contexts,
the best answer span from a model's start and end logits, and the official script's EM and F1.

The metrics follow `evaluate-v1.1.py` (Rajpurkar et al. 2016) line for line: both texts normalised
(lower case, punctuation and the articles a/an/the removed, whitespace collapsed), exact match, token
F1 from the common tokens, and the maximum over a question's gold answers.
"""

from __future__ import annotations

import collections
import json
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import QbenchDataError
from .feed import length_sorted_batches, model_feed

if TYPE_CHECKING:
    import datasets
    import numpy

N_BEST = 20  # start and end candidates per window, as Hugging Face's run_qa.py decodes
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


# ---- the official script's metrics -------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces: `normalize_answer` of evaluate-v1.1.py."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(gold)


@dataclass(frozen=True)
class TokenOverlap:
    """A prediction's normalised tokens against one gold answer's."""

    precision: float
    recall: float
    f1: float


def token_overlap(prediction: str, gold: str) -> TokenOverlap:
    """`f1_score` of evaluate-v1.1.py, with the precision and recall it is made of (all 0 without a common token)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    same = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if same == 0:
        return TokenOverlap(0.0, 0.0, 0.0)
    precision, recall = same / len(predicted), same / len(expected)
    return TokenOverlap(precision, recall, 2 * precision * recall / (precision + recall))


@dataclass(frozen=True)
class QuestionScore:
    exact: bool  # the prediction matches one of the gold answers
    overlap: TokenOverlap  # against the gold answer it overlaps best (the first of equals)


def score_question(prediction: str, golds: Sequence[str]) -> QuestionScore:
    """The maximum over the gold answers, as `metric_max_over_ground_truths` takes it."""
    if not golds:
        raise QbenchDataError(
            f"a question has no gold answer to score {prediction!r} against; SQuAD v1.1 gives each at least one"
        )
    overlaps = [token_overlap(prediction, gold) for gold in golds]
    return QuestionScore(any(exact_match(prediction, gold) for gold in golds), max(overlaps, key=lambda o: o.f1))


# ---- SQuAD v1.1 files --------------------------------------------------------------------------


def squad_features() -> datasets.Features:
    """The columns of the hub's `squad` dataset."""
    import datasets

    return datasets.Features({
        "id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "context": datasets.Value("string"),
        "question": datasets.Value("string"),
        "answers": datasets.Sequence({"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}),
    })


def read_squad(path: str | Path) -> datasets.Dataset:
    """A SQuAD v1.1 JSON file ({"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}) as the
    hub's `squad` dataset has it: one row per question, with its id, title, context and answers."""
    import datasets

    path = Path(path)
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        rows = [
            {"id": qa["id"], "title": article["title"], "context": paragraph["context"], "question": qa["question"],
             "answers": {"text": [a["text"] for a in qa["answers"]],
                         "answer_start": [a["answer_start"] for a in qa["answers"]]}}
            for article in articles for paragraph in article["paragraphs"] for qa in paragraph["qas"]
        ]
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise QbenchDataError(
            f"{path}: not a SQuAD v1.1 file ({type(error).__name__}: {error}); expected"
            ' {"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", "answers": [{"text",'
            ' "answer_start"}]}]}]}]}'
        ) from None
    if not rows:
        raise QbenchDataError(f"{path}: a SQuAD file without questions; it has no samples to use")
    return datasets.Dataset.from_list(rows, features=squad_features())


# ---- windows and answer spans ------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    score: float  # start logit + end logit
    start: int  # characters of the context
    end: int


def windows(
    tokenizer: Any, questions: Sequence[str], contexts: Sequence[str], ids: Sequence[str], input_names: Sequence[str],
    max_length: int, stride: int,
) -> Any:
    """Every question with its context cut into windows of `max_length` tokens, consecutive windows
    sharing `stride` context tokens (Hugging Face's recipe: the context alone is truncated; the
    encoding's `overflow_to_sample_mapping` says whose window each row is)."""
    questions = [question.lstrip() for question in questions]  # leading blanks only waste the window
    room = max_length - tokenizer.num_special_tokens_to_add(pair=True)
    for sample_id, tokens in zip(ids, tokenizer(questions, add_special_tokens=False)["input_ids"], strict=True):
        if room - len(tokens) <= stride:
            raise QbenchDataError(
                f"question {sample_id!r} takes {len(tokens)} tokens, which leaves {max(room - len(tokens), 0)} of"
                f" sequence_length={max_length} for its context, not more than doc_stride={stride}: windows"
                " could not move on; raise sequence_length or lower doc_stride"
            )
    return tokenizer(
        questions, list(contexts), truncation="only_second", max_length=max_length, stride=stride,
        return_overflowing_tokens=True, return_offsets_mapping=True,
        return_token_type_ids="token_type_ids" in input_names,
    )


def context_offsets(encoding: Any, row: int) -> list[tuple[int, int] | None]:
    """Each token's characters in the context, None for the question's and special tokens."""
    return [tuple(offset) if sequence == 1 else None
            for offset, sequence in zip(encoding["offset_mapping"][row], encoding.sequence_ids(row), strict=True)]


def best_span(
    start_logits: numpy.ndarray, end_logits: numpy.ndarray, offsets: Sequence[tuple[int, int] | None],
    max_answer_length: int, n_best: int = N_BEST,
) -> Span | None:
    """The context span of at most `max_answer_length` tokens with the highest start + end logit, among
    the `n_best` starts and ends of the context tokens; None when the window holds no context."""
    import numpy as np

    context = np.array([i for i, offset in enumerate(offsets) if offset is not None], dtype=np.int64)
    if not len(context):
        return None
    starts = context[np.argsort(-start_logits[context], kind="stable")[:n_best]]
    ends = context[np.argsort(-end_logits[context], kind="stable")[:n_best]]
    best = None
    for start in starts:
        for end in ends:
            if start <= end < start + max_answer_length:
                score = float(start_logits[start] + end_logits[end])
                if best is None or score > best.score:
                    best = Span(score, offsets[start][0], offsets[end][1])
    return best


def predict_answers(
    ort_session: Any, tokenizer: Any, questions: Sequence[str], contexts: Sequence[str], ids: Sequence[str],
    *, max_length: int, stride: int, max_answer_length: int, batch_size: int,
) -> list[str]:
    """Each question's answer: the best span over its context's windows, "" if none fits. The windows
    run `batch_size` at a time, of similar lengths, each batch padded on the right to its longest; the
    model's first two outputs are the start and end logits (optimum's question-answering export)."""
    input_names = [i.name for i in ort_session.get_inputs()]
    encoding = windows(tokenizer, questions, contexts, ids, input_names, max_length, stride)
    owners = encoding["overflow_to_sample_mapping"]
    lengths = [len(row) for row in encoding["input_ids"]]
    best: list[Span | None] = [None] * len(questions)
    for batch in length_sorted_batches(lengths, batch_size):
        feed = _padded(encoding, batch, input_names, tokenizer.pad_token_id)
        start_logits, end_logits = ort_session.run(None, feed)[:2]
        for row, window in enumerate(batch):
            length = lengths[window]
            span = best_span(start_logits[row, :length], end_logits[row, :length], context_offsets(encoding, window),
                             max_answer_length)
            owner = owners[window]
            if span is not None and (best[owner] is None or span.score > best[owner].score):
                best[owner] = span
    return ["" if span is None else context[span.start : span.end]
            for span, context in zip(best, contexts, strict=True)]


def _padded(encoding: Any, rows: Sequence[int], input_names: Sequence[str], pad_id: int) -> dict[str, numpy.ndarray]:
    """Rows of the encoding padded on the right to the longest: pad tokens, attention 0, segment 0."""
    import numpy as np

    width = max(len(encoding["input_ids"][row]) for row in rows)
    arrays = {}
    for name in (name for name in input_names if name in encoding):  # model_feed names any missing
        fill = pad_id if name == "input_ids" else 0
        arrays[name] = np.array([list(encoding[name][row]) + [fill] * (width - len(encoding[name][row]))
                                 for row in rows])
    return model_feed(arrays, input_names)
