"""Text in, model inputs out: CoNLL and SQuAD files, dataset splits, label checks, calibration and timing inputs."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from ..errors import QbenchDataError
from .feed import model_feed
from .squad import read_squad

if TYPE_CHECKING:
    import datasets
    import numpy

    DataSource: TypeAlias = str | Path | datasets.Dataset | datasets.DatasetDict

# The label order of the hub's `conll2003` dataset, so ids agree with models fine-tuned on it.
CONLL2003_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
CONLL_SUFFIXES = (".txt", ".conll")
# `datasets` names a split by its file name the same way (valid.txt, dev.txt -> validation).
_SPLIT_ALIASES = {"valid": "validation", "dev": "validation"}
_DATA_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
# optimum's `get_calibration_dataset` shuffles with this seed: same samples as the reference.
CALIBRATION_SEED = 2016


def read_conll(path: str | Path) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences and tags of a CoNLL file: token first, tag last on each line, blank line between
    sentences, `-DOCSTART-` lines ignored."""
    path = Path(path)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    labels: list[str] = []
    raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark is no token
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = raw[: exc.start].count(b"\n") + 1
        raise QbenchDataError(
            f"{path}:{where}: not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8"
        ) from None
    with io.StringIO(text, newline=None) as handle:  # universal newlines, as open() reads text
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                if words:
                    sentences.append(words)
                    tags.append(labels)
                    words, labels = [], []
                continue
            if len(fields) < 2:
                raise QbenchDataError(
                    f"{path}:{number}: expected 'token ... tag' (at least two columns), got {line.rstrip()!r}"
                )
            words.append(fields[0])
            labels.append(fields[-1])
    if words:
        sentences.append(words)
        tags.append(labels)
    return sentences, tags


def parse_conll(path: str | Path, label_names: tuple[str, ...] | None = None) -> datasets.Dataset:
    """A CoNLL file as a `datasets.Dataset` with `tokens` and `ner_tags` (a `ClassLabel` sequence).

    `label_names` fixes the id order (default: CoNLL-2003's when every tag is in it, else sorted)."""
    import datasets

    sentences, tags = read_conll(path)
    if not sentences:
        raise QbenchDataError(f"{path}: no sentences found; is this a CoNLL file (token ... tag per line)?")
    seen = {tag for sentence in tags for tag in sentence}
    if label_names is None:
        label_names = CONLL2003_LABELS if seen <= set(CONLL2003_LABELS) else tuple(sorted(seen))
    unknown = seen - set(label_names)
    if unknown:
        raise QbenchDataError(
            f"{path}: tags {sorted(unknown)} are not in the label set {list(label_names)}; "
            "pass label_names that include them"
        )
    index = {name: i for i, name in enumerate(label_names)}
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(label_names))),
        }
    )
    return datasets.Dataset.from_dict(
        {"tokens": sentences, "ner_tags": [[index[t] for t in sentence] for sentence in tags]},
        features=features,
    )


# ---- splits -----------------------------------------------------------------------------------


def load_split(source: DataSource, split: str) -> datasets.Dataset:
    """One split of `source`: a `Dataset` (used as is), a `DatasetDict`, a hub name, a local data file
    (CoNLL .txt/.conll, json, csv, parquet: the one split there is, whatever `split` asks) or a local
    folder of such files, one per split (train.txt, valid.txt, test.txt...)."""
    import datasets

    if isinstance(source, datasets.DatasetDict):
        dataset = _pick(source, split, "the dataset")
    elif isinstance(source, datasets.Dataset):
        dataset = source
    else:
        dataset = _load_source(str(source), split)
    if len(dataset) == 0:
        raise QbenchDataError(f"split {split!r} of {_describe(source)} is empty; it has no samples to use")
    return dataset


def _load_source(source: str, split: str) -> datasets.Dataset:
    import datasets

    path = Path(source).expanduser()
    if path.is_dir():
        conll = _conll_files(path)
        if conll:
            return parse_conll(_pick(conll, split, str(path)))
        with _loading(source, split):
            return datasets.load_dataset(str(path), split=split)
    if path.is_file():
        return _load_file(path)
    if path.suffix in (*CONLL_SUFFIXES, *_DATA_BUILDERS) or source.startswith((".", "/", "~")):
        raise QbenchDataError(f"dataset {source!r}: no such file or folder")
    with _loading(source, split):
        return datasets.load_dataset(source, split=split)


def _load_file(path: Path) -> datasets.Dataset:
    import datasets

    if path.suffix in CONLL_SUFFIXES:
        return parse_conll(path)
    if path.suffix == ".json" and is_squad_file(path):
        return read_squad(path)
    builder = _DATA_BUILDERS.get(path.suffix)
    if builder is None:
        known = ", ".join((*CONLL_SUFFIXES, *_DATA_BUILDERS))
        raise QbenchDataError(f"dataset {str(path)!r}: unknown file type {path.suffix!r}; known: {known}")
    with _loading(str(path), "train"):
        return datasets.load_dataset(builder, data_files=str(path), split="train")


def is_squad_file(path: Path) -> bool:
    """Whether a .json file reads as SQuAD's own layout, {"data": [{"title", "paragraphs"...}]}, which
    the json builder would take for one row (not JSON Lines, nor a list of records)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        head = handle.read(1 << 16)
    return bool(_SQUAD_HEAD.match(head)) and '"paragraphs"' in head


_SQUAD_HEAD = re.compile(r'\s*\{\s*(?:"version"\s*:\s*"[^"]*"\s*,\s*)?"data"\s*:\s*\[')


def _conll_files(folder: Path) -> dict[str, Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix in CONLL_SUFFIXES)
    return {_SPLIT_ALIASES.get(p.stem, p.stem): p for p in files}


def _pick(splits: Mapping[str, Any], split: str, where: str) -> Any:
    if split not in splits:
        available = ", ".join(repr(name) for name in splits) or "none"
        raise QbenchDataError(f"{where} has no split {split!r}; available splits: {available}")
    return splits[split]


@contextlib.contextmanager
def _loading(source: str, split: str) -> Iterator[None]:
    """`datasets.load_dataset` errors (offline, unknown name or split) as one actionable line."""
    try:
        yield
    # OSError: offline, unreachable or unknown dataset; ValueError: unknown split;
    # RuntimeError: a hub dataset that still needs a loading script, which `datasets` dropped.
    except (OSError, ValueError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise QbenchDataError(
            f"could not load split {split!r} of dataset {source!r}: {reason}. Give a local file or "
            "folder instead, or return a datasets.Dataset from a `qbench_dataset` fixture"
        ) from error


def _describe(source: Any) -> str:
    return repr(str(source)) if isinstance(source, (str, Path)) else f"the {type(source).__name__}"


# ---- labels -----------------------------------------------------------------------------------


def require_columns(dataset: datasets.Dataset, *columns: str) -> None:
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise QbenchDataError(
            f"the dataset has no column {', '.join(map(repr, missing))}; its columns: "
            f"{', '.join(dataset.column_names)}. Set input_column/label_column in the qbench marker"
        )


def label_names(dataset: datasets.Dataset, label_column: str) -> list[str]:
    """The label names of `label_column`: a `ClassLabel`, or a sequence of them (one per word)."""
    import datasets

    require_columns(dataset, label_column)
    feature = dataset.features[label_column]
    class_label = getattr(feature, "feature", feature)  # List/Sequence(ClassLabel) or ClassLabel
    if not isinstance(class_label, datasets.ClassLabel):
        raise QbenchDataError(
            f"column {label_column!r} is {feature}, not ClassLabel ids (nor, for text classification, class"
            f" names as text), so its label names are unknown; cast it: dataset.cast_column({label_column!r},"
            " datasets.ClassLabel(names=[...])), or datasets.Sequence(datasets.ClassLabel(names=[...])) for"
            " one label per word"
        )
    return list(class_label.names)


def class_labels(dataset: datasets.Dataset, label_column: str) -> tuple[list[str], list[str]]:
    """The class names and each sample's class of a one-label-per-sample column: `ClassLabel` ids,
    or the names themselves as text (a csv or json file's "positive" / "negative")."""
    import datasets

    require_columns(dataset, label_column)
    feature = dataset.features[label_column]
    if isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string"):
        labels = list(dataset[label_column])
        return sorted(set(labels)), labels
    names = label_names(dataset, label_column)
    return names, [names[i] for i in dataset[label_column]]


def check_labels(dataset_labels: Sequence[str], id2label: Mapping[int, str]) -> None:
    """Fail unless the model can predict every label of the dataset; ids may differ, names may not."""
    model_labels = set(id2label.values())
    unknown = [label for label in dataset_labels if label not in model_labels]
    if not unknown:
        return
    hint = (
        "If the two name the same things differently, map them with label_map= in the qbench marker"
        " (e.g. label_map={'GIVEN_NAME': 'PER', 'CITY': 'LOC', '*': 'O'}); else fix the model"
        " config's id2label, or use a dataset with the model's label names"
    )
    if all(label.startswith("LABEL_") for label in model_labels):
        hint = "The model's labels are transformers' placeholders: its config.json lacks id2label"
    raise QbenchDataError(
        f"the dataset's labels {sorted(set(dataset_labels))} are not all among the model's labels "
        f"{sorted(model_labels)} (unknown to the model: {unknown}), so the scores would be wrong. {hint}"
    )


# ---- model inputs -----------------------------------------------------------------------------


def tokenize(tokenizer: Any, samples: Sequence[Any], input_names: Sequence[str], **kwargs: Any) -> Any:
    """Tokenize texts or word lists (pre-split sentences) for a model that takes `input_names`."""
    samples = list(samples)
    split_into_words = bool(samples) and not isinstance(samples[0], str)
    return tokenizer(
        samples,
        is_split_into_words=split_into_words,
        return_token_type_ids="token_type_ids" in input_names,
        **kwargs,
    )


def calibration_dataset(
    tokenizer: Any,
    dataset: datasets.Dataset,
    input_column: str,
    num_samples: int,
    sequence_length: int,
    input_names: Sequence[str],
) -> datasets.Dataset:
    """`num_samples` samples of the split as model inputs only, each exactly `sequence_length` long."""
    import datasets

    require_columns(dataset, input_column)
    if len(dataset) < num_samples:
        raise QbenchDataError(
            f"calibration asks for {num_samples} samples but the split has only {len(dataset)};"
            " lower calibration_num_samples or use a larger split"
        )
    samples = dataset.shuffle(seed=CALIBRATION_SEED).select(range(num_samples))[input_column]
    encoding = tokenize(
        tokenizer, samples, input_names,
        padding="max_length", truncation=True, max_length=sequence_length, return_tensors="np",
    )
    return datasets.Dataset.from_dict(model_feed(encoding, input_names))


def latency_inputs(
    tokenizer: Any,
    dataset: datasets.Dataset,
    input_column: str,
    batch_size: int,
    sequence_length: int,
    input_names: Sequence[str],
) -> dict[str, numpy.ndarray]:
    """A batch of real text, `batch_size` x exactly `sequence_length` int64 tokens: each row joins
    consecutive samples until it fills the length, so the timing sees few padding tokens."""
    require_columns(dataset, input_column)
    samples = _cycle(tokenizer, dataset, input_column)
    room = sequence_length - tokenizer.num_special_tokens_to_add(pair=False)
    rows = [_fill(samples, room) for _ in range(batch_size)]
    encoding = tokenize(
        tokenizer, rows, input_names,
        padding="max_length", truncation=True, max_length=sequence_length, return_tensors="np",
    )
    return model_feed(encoding, input_names)


def _cycle(tokenizer: Any, dataset: datasets.Dataset, column: str) -> Iterator[tuple[Any, int]]:
    """Samples with their token counts, round and round the split, tokenized a chunk at a time."""
    while True:
        total = 0
        for chunk in dataset.select_columns([column]).iter(batch_size=256):
            samples = chunk[column]
            counts = [len(ids) for ids in tokenize(tokenizer, samples, (), add_special_tokens=False)["input_ids"]]
            total += sum(counts)
            yield from zip(samples, counts, strict=True)
        if not total:
            raise QbenchDataError(f"column {column!r} has no text: every sample tokenizes to nothing")


def _fill(samples: Iterator[tuple[Any, int]], room: int) -> Any:
    parts, length = [], 0
    while length < room:
        sample, count = next(samples)
        parts.append(sample)
        length += count
    if isinstance(parts[0], str):
        return " ".join(parts)
    return [word for part in parts for word in part]


def padded_batches(
    tokenizer: Any, dataset: datasets.Dataset, input_column: str, input_names: Sequence[str], batches: int,
    batch_size: int,
) -> tuple[list[dict[str, numpy.ndarray]], float]:
    """The first `batches` x `batch_size` samples in their order, each batch padded to its longest:
    real batches with real padding, for comparing a quantized model's tensors with the original's.
    Also the fraction of the token positions that are padding."""
    require_columns(dataset, input_column)
    samples = list(dataset.select(range(min(len(dataset), batches * batch_size)))[input_column])
    feeds, padding, positions = [], 0, 0
    for start in range(0, len(samples), batch_size):
        encoding = tokenize(
            tokenizer, samples[start : start + batch_size], input_names,
            padding=True, truncation=True, return_tensors="np",
        )
        mask = encoding["attention_mask"]
        padding, positions = padding + int((mask == 0).sum()), positions + mask.size
        feeds.append(model_feed(encoding, input_names))
    return feeds, padding / positions if positions else 0.0
