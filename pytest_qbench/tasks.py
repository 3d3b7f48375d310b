"""What a model is scored on: a task turns a split into session inputs and the outputs into metrics.

Timing and baselines never look inside a task, so a new one (text classification...) is a class with
`name`, `head` and `evaluate`, registered in `TASKS`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Protocol, Sequence

from .config import DataSpec, QbenchConfigError
from .data import check_labels, label_names, model_feed, require_columns, tokenize
from .results import AccuracyResult

if TYPE_CHECKING:
    import datasets
    import numpy
    import onnxruntime


class Task(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def head(self) -> str:
        """How transformers' class names for this task's models end, e.g. "ForTokenClassification"."""
        ...

    def evaluate(
        self,
        session: "onnxruntime.InferenceSession",
        tokenizer: Any,
        dataset: "datasets.Dataset",
        spec: DataSpec,
        id2label: Mapping[int, str],
    ) -> AccuracyResult: ...


@dataclass(frozen=True)
class TokenClassification:
    """Word-level NER scored by seqeval; each word is predicted by its first sub-token."""

    name: str = "token-classification"
    head: str = "ForTokenClassification"
    max_length: int | None = None  # None: the tokenizer's model_max_length, if it has one

    def evaluate(
        self,
        session: "onnxruntime.InferenceSession",
        tokenizer: Any,
        dataset: "datasets.Dataset",
        spec: DataSpec,
        id2label: Mapping[int, str],
    ) -> AccuracyResult:
        start = time.perf_counter()
        if spec.max_eval_samples is not None and spec.max_eval_samples < len(dataset):
            dataset = dataset.select(range(spec.max_eval_samples))
        require_columns(dataset, spec.input_column)
        names, id2label = scored_labels(label_names(dataset, spec.label_column), id2label, spec, tagged=True)
        gold = [[names[tag] for tag in tags] for tags in dataset[spec.label_column]]
        predicted, truncated = self._predict(
            session, tokenizer, list(dataset[spec.input_column]), id2label, spec.eval_batch_size
        )
        return _score(gold, predicted, truncated, spec.scoring, time.perf_counter() - start)

    def _predict(
        self, session: Any, tokenizer: Any, sentences: list[list[str]], id2label: Mapping[int, str], batch_size: int
    ) -> tuple[list[list[str]], int]:
        """Predicted word labels of every sentence, and how many words the truncation cut off."""
        input_names = [i.name for i in session.get_inputs()]
        predicted: list[list[str]] = [[] for _ in sentences]
        truncated = 0
        encoded = tokenize(tokenizer, sentences, (), truncation=True, max_length=self.max_length)["input_ids"]
        for batch in _length_sorted_batches([len(ids) for ids in encoded], batch_size):
            encoding = tokenize(
                tokenizer, [sentences[i] for i in batch], input_names,
                padding=True, truncation=True, max_length=self.max_length, return_tensors="np",
            )
            best = session.run(None, model_feed(encoding, input_names))[0].argmax(-1)
            for row, index in enumerate(batch):
                predicted[index], cut = _word_labels(
                    encoding.word_ids(row), best[row], len(sentences[index]), id2label
                )
                truncated += cut
        return predicted, truncated


def scored_labels(
    names: list[str], id2label: Mapping[int, str], spec: DataSpec, *, tagged: bool
) -> tuple[list[str], dict[int, str]]:
    """The dataset's label names and the model's id2label as they are scored: through the case's
    label_map if it has one, else as they are, provided the model knows every dataset label."""
    id2label = {int(i): label for i, label in id2label.items()}
    if not spec.label_map:
        check_labels(names, id2label)
        return names, id2label
    from .label_map import translate

    translation = translate(dict(spec.label_map), id2label.values(), names, tagged=tagged)
    return [translation.dataset[n] for n in names], {i: translation.model[label] for i, label in id2label.items()}


def _length_sorted_batches(lengths: Sequence[int], size: int) -> Iterator[list[int]]:
    """Indices in batches of similar token counts, so padding per batch costs almost nothing."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for start in range(0, len(order), size):
        yield order[start : start + size]


def _word_labels(
    word_ids: list[int | None], label_ids: "numpy.ndarray", num_words: int, id2label: Mapping[int, str]
) -> tuple[list[str], int]:
    """Each word's label from its first sub-token; words past the truncation are "O" and counted."""
    labels = ["O"] * num_words
    previous = None
    for position, word in enumerate(word_ids):
        if word is not None and word != previous:
            labels[word] = id2label[int(label_ids[position])]
        previous = word
    encoded_words = max((word for word in word_ids if word is not None), default=-1) + 1
    return labels, num_words - encoded_words


def _score(
    gold: list[list[str]], predicted: list[list[str]], truncated_words: int, scoring: str, seconds: float
) -> AccuracyResult:
    """seqeval's micro precision/recall/F1, token accuracy and per-type F1; "strict" is IOB2-exact."""
    from seqeval.metrics import accuracy_score, classification_report
    from seqeval.scheme import IOB2

    mode = {"mode": "strict", "scheme": IOB2} if scoring == "strict" else {}
    report = classification_report(gold, predicted, output_dict=True, zero_division=0, **mode)
    micro = report["micro avg"]
    return AccuracyResult(
        precision=float(micro["precision"]),
        recall=float(micro["recall"]),
        f1=float(micro["f1-score"]),
        accuracy=float(accuracy_score(gold, predicted)),
        per_type_f1={k: float(v["f1-score"]) for k, v in report.items() if not k.endswith(" avg")},
        num_samples=len(gold),
        num_words=sum(len(sentence) for sentence in gold),
        truncated_words=truncated_words,
        scoring=scoring,
        seconds=seconds,
    )


TASKS: dict[str, Task] = {task.name: task for task in (TokenClassification(),)}


def task_for(config: Any) -> Task:
    """The task of a transformers config, by the head in its `architectures`; a config without a
    head (or without `architectures`, e.g. a bare .onnx file) is taken as token classification."""
    architectures = getattr(config, "architectures", None) or []
    for architecture in architectures:
        for task in TASKS.values():
            if architecture.endswith(task.head):
                return task
    heads = [a for a in architectures if "For" in a]
    if heads:
        supported = ", ".join(f"{t.name} (*{t.head})" for t in TASKS.values())
        raise QbenchConfigError(f"qbench: the model is a {heads[0]}; supported tasks: {supported}")
    return TASKS["token-classification"]
