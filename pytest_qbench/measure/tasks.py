"""What a model is scored on: a task turns a split into model inputs and the outputs into metrics.

Timing and baselines never look inside a task, so a new one is a `Task` subclass that reads its
labels, predicts, applies a label_map and scores (`_gold`, `_predict`, `_relabel`, `_score`), registered
in `TASKS`. Every task fills the same `AccuracyResult`: precision, recall, F1 and accuracy (F1 is what
the gate compares), averaged as the task's field does it. `evaluate` is `predict` then `score`: the
same predictions can be scored under another label_map or scoring mode. Question answering reads long
contexts in windows of the case's sequence length, so its scores are per shape (`at_length`); the
others' are per model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import QbenchConfigError, QbenchDataError
from ..results import AccuracyResult
from ..specs import DataSpec
from .data import check_labels, class_labels, label_names, require_columns, tokenize
from .feed import length_sorted_batches, model_feed
from .label_map import relabel_classes, relabel_entities, translate
from .squad import predict_answers, score_question

if TYPE_CHECKING:
    import datasets
    import numpy
    import onnxruntime

    from .label_map import Relabelled, Translation


@dataclass(frozen=True)
class Predictions:
    """A model's labels for every sample of a split, and the split's own, each as its side names them."""

    gold: list[Any]
    predicted: list[Any]
    dataset_labels: list[str]  # every label the dataset's label column can hold
    id2label: dict[int, str]  # the model's
    truncated: int  # units the model's maximum length cut
    seconds: float  # reading the labels and predicting


@dataclass(frozen=True)
class Task:
    """The one evaluation flow; a task says how to read its labels, predict and score."""

    name: str  # the task's name in transformers' pipelines and optimum's exporter
    head: str  # how transformers' class names for its models end, e.g. "ForTokenClassification"
    auto_class: str  # the transformers class that loads such a model for export
    columns: tuple[str, str]  # the input and label columns a case reads unless it names others
    tagged: bool  # labels are IOB tags of entity types (a label_map maps the types), else classes
    max_length: int | None = None  # None: the tokenizer's model_max_length, if it has one
    windowed: bool = False  # reads long inputs in windows of the case's sequence length

    def at_length(self, sequence_length: int) -> Task:
        """The task as a case of `sequence_length` scores with it: a windowed task reads windows of that
        length; the others read what the tokenizer's maximum allows, whatever the case's shape."""
        return replace(self, max_length=sequence_length) if self.windowed else self

    def evaluate(
        self,
        ort_session: onnxruntime.InferenceSession,
        tokenizer: Any,
        dataset: datasets.Dataset,
        spec: DataSpec,
        id2label: Mapping[int, str],
    ) -> AccuracyResult:
        return self.score(self.predict(ort_session, tokenizer, dataset, spec, id2label), spec)

    def predict(
        self,
        ort_session: onnxruntime.InferenceSession,
        tokenizer: Any,
        dataset: datasets.Dataset,
        spec: DataSpec,
        id2label: Mapping[int, str],
    ) -> Predictions:
        """The model's labels and the dataset's, once the labels are known to be scoreable under `spec`."""
        start = time.perf_counter()
        spec = columns_for(self, spec)
        if spec.max_eval_samples is not None and spec.max_eval_samples < len(dataset):
            dataset = dataset.select(range(spec.max_eval_samples))
        require_columns(dataset, spec.resolved_input_column)
        if spec.sets_windows and not self.windowed:
            raise QbenchConfigError(
                f"qbench: doc_stride and max_answer_length are question-answering settings; the model is a {self.name}"
                " model: leave them out"
            )
        gold, names = self._gold(dataset, spec)
        id2label = {int(i): label for i, label in id2label.items()}
        label_translation(names, id2label, spec, tagged=self.tagged)  # a bad label_map fails before the model runs
        predicted, truncated = self._predict(ort_session, tokenizer, dataset, spec, id2label)
        return Predictions(gold, predicted, names, id2label, truncated, time.perf_counter() - start)

    def score(self, predictions: Predictions, spec: DataSpec) -> AccuracyResult:
        """The scores of `predictions`, through the case's label_map if it has one."""
        start = time.perf_counter()
        gold, predicted, effect = predictions.gold, predictions.predicted, None
        translation = label_translation(predictions.dataset_labels, predictions.id2label, spec, tagged=self.tagged)
        if translation is not None:
            relabelled = self._relabel(translation, gold, predicted, spec)
            gold, predicted, effect = relabelled.gold, relabelled.predicted, relabelled.effect
        seconds = predictions.seconds + time.perf_counter() - start
        return replace(self._score(gold, predicted, predictions.truncated, spec.scoring, seconds), label_map=effect)

    def _gold(self, dataset: datasets.Dataset, spec: DataSpec) -> tuple[list[Any], list[str]]:
        """The reference labels of every sample, and the dataset's label names, as the dataset names them."""
        raise NotImplementedError

    def _predict(
        self, ort_session: Any, tokenizer: Any, dataset: datasets.Dataset, spec: DataSpec, id2label: Mapping[int, str]
    ) -> tuple[list[Any], int]:
        """The predicted labels of every sample, as the model names them, and how many units the truncation cut."""
        raise NotImplementedError

    def _relabel(self, translation: Translation, gold: list[Any], predicted: list[Any], spec: DataSpec) -> Relabelled:
        """Both sides' labels as the label_map scores them."""
        raise NotImplementedError

    def _score(
        self, gold: list[Any], predicted: list[Any], truncated: int, scoring: str, seconds: float
    ) -> AccuracyResult:
            raise NotImplementedError


@dataclass(frozen=True)
class TokenClassification(Task):
    """Word-level NER scored by seqeval; each word is predicted by its first sub-token."""

    name: str = "token-classification"
    head: str = "ForTokenClassification"
    auto_class: str = "AutoModelForTokenClassification"
    columns: tuple[str, str] = ("tokens", "ner_tags")
    tagged: bool = True

    def _gold(self, dataset: datasets.Dataset, spec: DataSpec) -> tuple[list[Any], list[str]]:
        names = label_names(dataset, spec.resolved_label_column)
        return [[names[tag] for tag in tags] for tags in dataset[spec.label_column]], names

    def _predict(
        self, ort_session: Any, tokenizer: Any, dataset: datasets.Dataset, spec: DataSpec, id2label: Mapping[int, str]
    ) -> tuple[list[list[str]], int]:
        sentences = list(dataset[spec.input_column])
        input_names = [i.name for i in ort_session.get_inputs()]
        predicted: list[list[str]] = [[] for _ in sentences]
        truncated = 0
        encoded = tokenize(tokenizer, sentences, (), truncation=True, max_length=self.max_length)["input_ids"]
        for batch in length_sorted_batches([len(ids) for ids in encoded], spec.eval_batch_size):
            encoding = tokenize(
                tokenizer, [sentences[i] for i in batch], input_names,
                padding=True, truncation=True, max_length=self.max_length, return_tensors="np",
            )
            best = ort_session.run(None, model_feed(encoding, input_names))[0].argmax(-1)
            for row, index in enumerate(batch):
                predicted[index], cut = _word_labels(
                    encoding.word_ids(row), best[row], len(sentences[index]), id2label
                )
                truncated += cut
        return predicted, truncated

    def _relabel(self, translation: Translation, gold: list[Any], predicted: list[Any], spec: DataSpec) -> Relabelled:
        return relabel_entities(translation, gold, predicted, strict=spec.scoring == "strict", merge=spec.merges_parts)

    def _score(
        self, gold: list[Any], predicted: list[Any], truncated: int, scoring: str, seconds: float
    ) -> AccuracyResult:
        """seqeval's micro precision/recall/F1 over entities, word accuracy and per-type F1; "strict" is IOB2-exact."""
        from seqeval.metrics import accuracy_score, classification_report
        from seqeval.scheme import IOB2

        mode = {"mode": "strict", "scheme": IOB2} if scoring == "strict" else {}
        report = classification_report(gold, predicted, output_dict=True, zero_division=0, **mode)
        micro = report["micro avg"]
        return AccuracyResult(
            task=self.name,
            precision=float(micro["precision"]),
            recall=float(micro["recall"]),
            f1=float(micro["f1-score"]),
            accuracy=float(accuracy_score(gold, predicted)),
            average="micro",
            per_label_f1={k: float(v["f1-score"]) for k, v in report.items() if not k.endswith(" avg")},
            num_samples=len(gold),
            unit="word",
            num_units=sum(len(sentence) for sentence in gold),
            truncated=truncated,
            scoring=scoring,
            seconds=seconds,
        )


@dataclass(frozen=True)
class SequenceClassification(Task):
    """One class per text (sentiment, topic...) scored by scikit-learn: accuracy, and precision,
    recall and F1 averaged over the classes with equal weight (macro), so a rare class counts."""

    name: str = "text-classification"
    head: str = "ForSequenceClassification"
    auto_class: str = "AutoModelForSequenceClassification"
    columns: tuple[str, str] = ("text", "label")
    tagged: bool = False

    def _gold(self, dataset: datasets.Dataset, spec: DataSpec) -> tuple[list[Any], list[str]]:
        if spec.scoring != "default":
            raise QbenchConfigError(
                f"qbench: scoring={spec.scoring!r} is an entity-level mode of token classification;"
                " text classification has one scoring: leave scoring out"
            )
        if spec.label_map and not spec.merges_parts:
            raise QbenchConfigError(
                "qbench: label_map_merge=False keeps the parts of an entity apart, in token classification;"
                " text classification has no entities to merge: leave label_map_merge out"
            )
        names, labels = class_labels(dataset, spec.resolved_label_column)
        return labels, names

    def _predict(
        self, ort_session: Any, tokenizer: Any, dataset: datasets.Dataset, spec: DataSpec, id2label: Mapping[int, str]
    ) -> tuple[list[str], int]:
        texts = list(dataset[spec.input_column])
        input_names = [i.name for i in ort_session.get_inputs()]
        lengths = [len(ids) for ids in tokenize(tokenizer, texts, (), verbose=False)["input_ids"]]
        limit = self.max_length or tokenizer.model_max_length
        predicted = [""] * len(texts)
        for batch in length_sorted_batches(lengths, spec.eval_batch_size):
            encoding = tokenize(
                tokenizer, [texts[i] for i in batch], input_names,
                padding=True, truncation=True, max_length=self.max_length, return_tensors="np",
            )
            best = ort_session.run(None, model_feed(encoding, input_names))[0].argmax(-1)
            for row, index in enumerate(batch):
                predicted[index] = id2label[int(best[row])]
        return predicted, sum(length > limit for length in lengths)

    def _relabel(self, translation: Translation, gold: list[Any], predicted: list[Any], spec: DataSpec) -> Relabelled:
        return relabel_classes(translation, gold, predicted)

    def _score(
        self, gold: list[Any], predicted: list[Any], truncated: int, scoring: str, seconds: float
    ) -> AccuracyResult:
        """scikit-learn's accuracy and macro precision/recall/F1 over the classes of either side."""
        from sklearn.metrics import accuracy_score, precision_recall_fscore_support

        classes = sorted(set(gold) | set(predicted))
        precision, recall, f1, _ = precision_recall_fscore_support(gold, predicted, average="macro", zero_division=0)
        per_class = precision_recall_fscore_support(gold, predicted, labels=classes, average=None, zero_division=0)[2]
        return AccuracyResult(
            task=self.name,
            precision=float(precision),
            recall=float(recall),
            f1=float(f1),
            accuracy=float(accuracy_score(gold, predicted)),
            average="macro",
            per_label_f1={label: float(value) for label, value in zip(classes, per_class, strict=True)},
            num_samples=len(gold),
            unit="sample",
            num_units=len(gold),
            truncated=truncated,
            scoring="default",
            seconds=seconds,
        )


@dataclass(frozen=True)
class QuestionAnswering(Task):
    """Extractive question answering scored as the official SQuAD v1.1 script does (measure/squad.py):
    each question's exact match (EM, the accuracy) and token F1 against its best gold answer, averaged
    over the questions, as fractions like the other tasks' scores. The input column is the context
    (what calibration and timing read too); the question and its id are the `question` and `id` columns."""

    name: str = "question-answering"
    head: str = "ForQuestionAnswering"
    auto_class: str = "AutoModelForQuestionAnswering"
    columns: tuple[str, str] = ("context", "answers")
    tagged: bool = False
    windowed: bool = True

    def _gold(self, dataset: datasets.Dataset, spec: DataSpec) -> tuple[list[Any], list[str]]:
        """Each question's id and gold answer texts; there are no label names."""
        # (a label_map_merge without a label_map is the plugin's error already)
        given = (("scoring", spec.scoring != "default"), ("label_map", bool(spec.label_map)))
        unused = [name for name, used in given if used]
        if unused:
            raise QbenchConfigError(
                f"qbench: {' and '.join(unused)} concern labels, which question answering has none of: leave them out"
            )
        require_columns(dataset, "id", "question", spec.resolved_label_column)
        answers = dataset[spec.label_column]
        if answers and not (isinstance(answers[0], dict) and "text" in answers[0]):
            raise QbenchDataError(
                f"column {spec.label_column!r} holds {type(answers[0]).__name__}, not SQuAD's answers"
                " ({'text': [...], 'answer_start': [...]}); point label_column at such a column"
            )
        return [(sample_id, list(gold["text"])) for sample_id, gold in zip(dataset["id"], answers, strict=True)], []

    def _predict(
        self, ort_session: Any, tokenizer: Any, dataset: datasets.Dataset, spec: DataSpec, id2label: Mapping[int, str]
    ) -> tuple[list[str], int]:
        """Every question's answer text; nothing is truncated, a long context is read in windows."""
        max_length = self.max_length or tokenizer.model_max_length
        return predict_answers(
            ort_session, tokenizer, dataset["question"], dataset[spec.input_column], dataset["id"],
            max_length=max_length, stride=spec.stride(max_length), max_answer_length=spec.max_answer_length,
            batch_size=spec.eval_batch_size,
        ), 0

    def _score(
        self, gold: list[Any], predicted: list[Any], truncated: int, scoring: str, seconds: float
    ) -> AccuracyResult:
        """EM and F1 of each question, averaged; precision and recall are those of the gold answer F1 took."""
        scores = [score_question(prediction, answers) for prediction, (_, answers) in zip(predicted, gold, strict=True)]
        count = len(scores)
        return AccuracyResult(
            task=self.name,
            precision=sum(s.overlap.precision for s in scores) / count,
            recall=sum(s.overlap.recall for s in scores) / count,
            f1=sum(s.overlap.f1 for s in scores) / count,
            accuracy=sum(s.exact for s in scores) / count,
            average="question",
            per_label_f1={},
            num_samples=len(scores),
            unit="question",
            num_units=len(scores),
            truncated=truncated,
            scoring="default",
            seconds=seconds,
            predictions={sample_id: prediction for prediction, (sample_id, _) in zip(predicted, gold, strict=True)},
        )


def columns_for(task: Task, spec: DataSpec) -> DataSpec:
    """`spec` with the task's input and label columns where the case names none."""
    input_column, label_column = task.columns
    return replace(spec, input_column=spec.input_column or input_column, label_column=spec.label_column or label_column)


def label_translation(
    names: list[str], id2label: Mapping[int, str], spec: DataSpec, *, tagged: bool
) -> Translation | None:
    """What the case's label_map makes of the dataset's and the model's names; without a map, None,
    provided the model knows every label of the dataset."""
    if not spec.label_map:
        check_labels(names, id2label)
        return None
    return translate(dict(spec.label_map), id2label.values(), names, tagged=tagged)


def _word_labels(
    word_ids: list[int | None], label_ids: numpy.ndarray, num_words: int, id2label: Mapping[int, str]
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


TASKS: dict[str, Task] = {
    task.name: task for task in (TokenClassification(), SequenceClassification(), QuestionAnswering())
}


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
