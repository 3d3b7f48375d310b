"""Tiny token-classification models with random weights and a local WordPiece vocabulary.

Built in a second or two on a CPU, without the hub: tests exercise the real export, optimisation
and quantization code paths on graphs shaped like the real DistilBERT/BERT ones.
"""

from __future__ import annotations

from pathlib import Path

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


def write_tokenizer(folder: Path, model_input_names: list[str]) -> None:
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join((*SPECIALS, *dict.fromkeys(WORDS))) + "\n")
    tokenizer = BertTokenizerFast(
        vocab_file=str(vocab), do_lower_case=True, model_input_names=model_input_names
    )
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(folder)


def _labels() -> dict:
    return {
        "num_labels": len(LABELS),
        "id2label": dict(enumerate(LABELS)),
        "label2id": {label: i for i, label in enumerate(LABELS)},
    }


def _randomise(model) -> None:
    # Hugging Face initialises biases to 0 and LayerNorm scales to 1; onnxruntime then merges these
    # identical initialisers, which no trained checkpoint has. Spread every parameter instead.
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            centre = 1.0 if "norm" in name.lower() and name.endswith("weight") else 0.0
            param.copy_(centre + 0.2 * torch.randn_like(param))


def build_tiny_distilbert(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import DistilBertConfig, DistilBertForTokenClassification

    write_tokenizer(folder, ["input_ids", "attention_mask"])
    vocab_size = len((folder / "vocab.txt").read_text().split())
    config = DistilBertConfig(
        vocab_size=vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
        max_position_embeddings=128, **_labels(),
    )
    torch.manual_seed(seed)
    model = DistilBertForTokenClassification(config)
    _randomise(model)
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
