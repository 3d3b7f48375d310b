"""label_map's merge rule on a real schema: the example CoNLL model's own predictions with names cut
in two, as PII models tag them (examples/split_names.py), scored through the map back to CoNLL.

For both scoring modes: the scores of the predictions as they are; the same predictions re-tagged
(each PER entity's first word B-GIVEN_NAME, the rest one SURNAME span) and mapped back, with the
merge rule and without it; and how many PER entities, surnames and merges there were. Prints a
result to bench/results/label-map-split.json, from which docs/RESULTS.md's table is rendered.

    .venv/bin/python bench/label_map_split.py
"""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "examples"), str(ROOT / "bench")]

from conll_model import ensure_model  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402
from split_names import SPLIT_TO_CONLL, split_predictions, validation_predictions  # noqa: E402

from pytest_qbench.specs import DataSpec  # noqa: E402
from pytest_qbench.measure.tasks import TokenClassification  # noqa: E402

OUT = ROOT / "bench" / "results" / "label-map-split.json"
SCORES = ("precision", "recall", "f1", "accuracy")


def main() -> None:
    start = run_start()
    task, model = TokenClassification(), ensure_model()
    predictions = validation_predictions(model, threads=2)
    rows = []
    for scoring in ("default", "strict"):
        split = split_predictions(predictions, strict=scoring == "strict")
        mapped = DataSpec(None, scoring=scoring, label_map=tuple(sorted(SPLIT_TO_CONLL.items())))
        identity = replace(mapped, label_map=tuple((t, t) for t in ("LOC", "MISC", "ORG", "PER")))
        results = {
            "unsplit": task.score(predictions, DataSpec(None, scoring=scoring)),
            "unsplit, identity map": task.score(predictions, identity),
            "split, merged": task.score(split, mapped),
            "split, not merged": task.score(split, replace(mapped, label_map_merge=False)),
        }
        surname = next(n for n in results["split, merged"].label_map.names if n.name == "SURNAME")
        rows.append({
            "scoring": scoring,
            "scores": {k: {**{s: getattr(r, s) for s in SCORES}, "per_label_f1": r.per_label_f1} for k, r in results.items()},
            "given_names": sum(tags.count("B-GIVEN_NAME") for tags in split.predicted),
            "surnames": surname.predicted,
            "merges": surname.predicted_joined,
            "label_map": asdict(results["split, merged"].label_map),
        })
    record = {
        **run_info(start),
        "model": model.name,
        "sentences": len(predictions.gold),
        "map": SPLIT_TO_CONLL,
        "rows": rows,
    }
    save_result(OUT, record)


if __name__ == "__main__":
    main()
