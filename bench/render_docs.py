"""Render every table of figures in the docs from the committed result files under bench/results/.

    .venv/bin/python bench/render_docs.py            # rewrite every block from its result files
    .venv/bin/python bench/render_docs.py --check    # change nothing; exit 1 naming each block that differs
                                                     # (exit 2: a block cannot be rendered, and why)

A block is the generated text between two markers in README.md, docs/RESULTS.md, docs/BENCHMARKS.md,
docs/SCALING.md or docs/verdicts.md:

    <!-- measurement:KIND bench/results/FILE.json [more sources] -->
    (generated: never edit by hand)
    <!-- /measurement:KIND -->

KIND names a renderer in `renderers.RENDERERS` (bench/renderers/): a pure function from the block's
sources, loaded in the order the marker names them (`renderers.Result`: the path, and the parsed JSON
or, for any other file, its text), to markdown. A block written on one line renders inline.

Prose that quotes a figure of a table quotes it through a block too, so it cannot drift from it:
either the renderer writes the sentence under its table (the summary lines under BENCHMARKS §1), or
the sentence holds an inline block
(`at most <!-- measurement:preset-gap bench/results/presets.json -->0.0012<!-- /measurement:preset-gap -->`).
Otherwise the prose names the table and leaves the number out.

Adding a block for a new result file:
  1. in bench/renderers/, in the module of the doc the table goes in, write
     `def render_x(result: Result) -> str` (the table, then `footer(run_of(result.data), ...)`, which
     names the run, the CPU, the load and what else ran) and add `"x": render_x` to `RENDERERS` in
     bench/renderers/__init__.py;
  2. put the two markers where the table goes, naming the file: `<!-- measurement:x bench/results/new.json -->`
     and `<!-- /measurement:x -->`;
  3. run this command. The bench script that writes the file saves it with `run_record.save_result`,
     which re-renders every block that reads it.

A markdown table outside any block in these docs fails tests/unit/test_docs.py, unless it holds no measured
figure (an option list, a layout) and the line above it says so: `<!-- no-figures: what it is -->`.
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from renderers import RENDERERS, load

REPO = Path(__file__).resolve().parent.parent
DOCS = tuple(
    REPO / name
    for name in ("README.md", "docs/RESULTS.md", "docs/BENCHMARKS.md", "docs/SCALING.md", "docs/verdicts.md")
)
BLOCK = re.compile(r"<!-- measurement:(?P<kind>[\w-]+)(?P<sources>(?: [^\s>]+)*) -->(?P<body>.*?)"
                   r"<!-- /measurement:(?P=kind) -->", re.DOTALL)
OPENING = re.compile(r"<!-- measurement:[\w-]+")
NO_FIGURES = re.compile(r"^<!-- no-figures: .+ -->$")
TABLE_DELIMITER = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


class RenderError(Exception):
    """A block that cannot be rendered: an unknown kind, a missing source, an unclosed marker."""


@dataclass(frozen=True)
class Block:
    doc: Path
    kind: str
    sources: tuple[str, ...]
    body: str  # the text between the markers as it stands in the doc
    span: tuple[int, int]  # where `body` stands in the doc's text

    @property
    def inline(self) -> bool:
        return "\n" not in self.body

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(REPO)}: {self.kind} <- {', '.join(self.sources)}"


def blocks(doc: Path, text: str) -> list[Block]:
    """The blocks of `text` (the contents of `doc`), in order."""
    found = [
        Block(doc, m["kind"], tuple(m["sources"].split()), m["body"], m.span("body")) for m in BLOCK.finditer(text)
    ]
    if len(found) != len(OPENING.findall(text)):
        raise RenderError(
            f"{doc.relative_to(REPO)}: a `<!-- measurement:... -->` marker has no matching closing marker"
        )
    return found


def render(block: Block) -> str:
    """What belongs between the block's markers, from its sources as committed."""
    if block.kind not in RENDERERS:
        raise RenderError(f"{block.name}: no renderer for {block.kind!r} (known: {', '.join(sorted(RENDERERS))})")
    missing = [s for s in block.sources if not (REPO / s).is_file()]
    if missing or not block.sources:
        raise RenderError(f"{block.name}: source {', '.join(missing) or 'not named'} not found")
    text = RENDERERS[block.kind](*(load(REPO, source) for source in block.sources)).strip("\n")
    if block.inline and "\n" in text:
        raise RenderError(f"{block.name}: an inline block needs one line, the renderer gave {text.count(chr(10)) + 1}")
    return text if block.inline else f"\n{text}\n"


def rendered(doc: Path, text: str, only: Path | None = None) -> tuple[str, list[Block]]:
    """`text` with its blocks re-rendered (those reading `only`, when given) and the blocks that changed."""
    changed: list[Block] = []
    parts: list[str] = []
    end = 0
    for block in blocks(doc, text):
        new = render(block) if only is None or _relative(only) in block.sources else block.body
        if new != block.body:
            changed.append(block)
        parts += [text[end:block.span[0]], new]
        end = block.span[1]
    return "".join(parts) + text[end:], changed


def loose_tables(text: str) -> list[int]:
    """Line numbers (1-based) of markdown tables outside every block and code fence that the line
    above does not mark `<!-- no-figures: ... -->`."""
    outside = BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    lines, found, fenced = outside.splitlines(), [], False
    for index, line in enumerate(lines):
        fenced ^= line.lstrip().startswith("```")
        is_table = (
            not fenced
            and index > 0
            and TABLE_DELIMITER.match(line.strip())
            and lines[index - 1].lstrip().startswith("|")
        )
        if is_table and not (index > 1 and NO_FIGURES.match(lines[index - 2].strip())):
            found.append(index)  # the header row's number, 1-based
    return found


def refresh(source: Path) -> None:
    """Re-render, in every doc, the blocks that read `source` (a bench script calls this after writing it)."""
    if not source.resolve().is_relative_to(REPO):  # an --output outside the checkout: no doc can read it
        print(f"{source} is outside the checkout: no doc block reads it", file=sys.stderr)
        return
    count = 0
    for doc in DOCS:
        text, changed = rendered(doc, doc.read_text(), only=source)
        if changed:
            atomic_write_text(doc, text)
        count += sum(_relative(source) in b.sources for b in blocks(doc, text))
    if not count:
        print(f"no doc block reads {_relative(source)}: add one (bench/render_docs.py says how)", file=sys.stderr)


def _relative(path: Path) -> str:
    return str(path.resolve().relative_to(REPO))


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` through a temp file beside it and `os.replace`: a reader (a test, the other
    script rendering the same doc) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8", newline="\n")
    os.chmod(temp, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
    os.replace(temp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a block differs from its sources"
    )
    args = parser.parse_args(argv)
    stale: list[Block] = []
    try:
        for doc in DOCS:
            text, changed = rendered(doc, doc.read_text())
            stale += changed
            if changed and not args.check:
                atomic_write_text(doc, text)
    except RenderError as error:
        print(f"cannot render: {error}", file=sys.stderr)
        return 2
    for block in stale:
        print(f"{'differs from its sources' if args.check else 'rendered'}: {block.name}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
