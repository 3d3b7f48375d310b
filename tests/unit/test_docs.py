"""The docs' tables of figures are rendered from the committed result files (bench/render_docs.py): a
block that differs from its sources fails, and so does a table of figures outside every block."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import render_docs  # noqa: E402
from render_docs import RenderError, blocks, loose_tables, render, rendered  # noqa: E402
from renderers import RENDERERS  # noqa: E402


@pytest.mark.parametrize("doc", render_docs.DOCS, ids=lambda d: d.name)
def test_every_block_matches_its_result_files(doc):
    _, stale = rendered(doc, doc.read_text())
    assert not stale, "re-render with `.venv/bin/python bench/render_docs.py`: " + "; ".join(b.name for b in stale)


@pytest.mark.parametrize("doc", render_docs.DOCS, ids=lambda d: d.name)
def test_no_table_of_figures_outside_a_block(doc):
    lines = loose_tables(doc.read_text())
    assert not lines, (
        f"{doc.name}: tables at lines {lines} are not rendered from a result file; render them"
        " (bench/render_docs.py) or, when they hold no measured figure, mark them `<!-- no-figures: ... -->`"
    )


def test_every_doc_has_blocks_and_every_renderer_a_block():
    """The checks above read real blocks: each doc holds some, each reads a result file first, and no
    renderer is left without a block."""
    found = [block for doc in render_docs.DOCS for block in blocks(doc, doc.read_text())]
    assert {block.doc for block in found} == set(render_docs.DOCS)
    assert all(block.sources[0].startswith("bench/results/") for block in found)
    assert {block.kind for block in found} == set(RENDERERS)


# ---- the machinery, on a doc of its own ----------------------------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A repository with one result file and a renderer `count` that lists it."""
    monkeypatch.setattr(render_docs, "REPO", tmp_path)
    monkeypatch.setitem(
        RENDERERS, "count", lambda result: f"| n |\n| --- |\n| {result.data['n']} |\nfrom `{result.path}`"
    )
    monkeypatch.setitem(RENDERERS, "n", lambda result: str(result.data["n"]))
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "r.json").write_text(json.dumps({"n": 3}))
    return tmp_path


def _doc(project: Path, text: str) -> Path:
    doc = project / "DOC.md"
    doc.write_text(text)
    return doc


def test_a_block_is_rendered_from_its_source_and_then_matches(project):
    doc = _doc(
        project, "# t\n\n<!-- measurement:count bench/results/r.json -->\nold\n<!-- /measurement:count -->\nafter\n"
    )
    text, stale = rendered(doc, doc.read_text())
    assert [b.kind for b in stale] == ["count"]
    assert "| 3 |\nfrom `bench/results/r.json`\n<!-- /measurement:count -->\nafter\n" in text
    assert rendered(doc, text)[1] == []


def test_a_changed_result_makes_its_block_stale(project):
    doc = _doc(project, "<!-- measurement:count bench/results/r.json -->\n<!-- /measurement:count -->\n")
    doc.write_text(rendered(doc, doc.read_text())[0])
    (project / "bench" / "results" / "r.json").write_text(json.dumps({"n": 4}))
    assert [b.name for b in rendered(doc, doc.read_text())[1]] == ["DOC.md: count <- bench/results/r.json"]


def test_an_inline_block_renders_a_quoted_figure_in_its_sentence(project):
    doc = _doc(project, "It took <!-- measurement:n bench/results/r.json -->9<!-- /measurement:n --> runs.\n")
    assert (
        rendered(doc, doc.read_text())[0]
        == "It took <!-- measurement:n bench/results/r.json -->3<!-- /measurement:n --> runs.\n"
    )


def test_refresh_rewrites_only_the_blocks_that_read_the_file(project, monkeypatch):
    (project / "bench" / "results" / "other.json").write_text(json.dumps({"n": 7}))
    doc = _doc(project, "<!-- measurement:n bench/results/r.json -->0<!-- /measurement:n -->"
                        " <!-- measurement:n bench/results/other.json -->0<!-- /measurement:n -->\n")
    monkeypatch.setattr(render_docs, "DOCS", (doc,))
    render_docs.refresh(project / "bench" / "results" / "other.json")
    assert doc.read_text() == ("<!-- measurement:n bench/results/r.json -->0<!-- /measurement:n -->"
                               " <!-- measurement:n bench/results/other.json -->7<!-- /measurement:n -->\n")


@pytest.mark.parametrize("text, message", [
    ("<!-- measurement:nope bench/results/r.json -->\n<!-- /measurement:nope -->\n", "no renderer for 'nope'"),
    ("<!-- measurement:count bench/results/gone.json -->\n<!-- /measurement:count -->\n", "gone.json not found"),
    ("<!-- measurement:count -->\n<!-- /measurement:count -->\n", "not named"),
])
def test_a_block_that_cannot_render_is_named(project, text, message):
    doc = _doc(project, text)
    with pytest.raises(RenderError, match=message):
        render(blocks(doc, doc.read_text())[0])


def test_an_inline_block_must_render_one_line(project):
    doc = _doc(project, "See <!-- measurement:count bench/results/r.json -->3<!-- /measurement:count -->.\n")
    with pytest.raises(RenderError, match="an inline block needs one line, the renderer gave 4"):
        render(blocks(doc, doc.read_text())[0])


def test_an_unclosed_block_is_an_error(project):
    doc = _doc(project, "<!-- measurement:count bench/results/r.json -->\n| a |\n")
    with pytest.raises(RenderError, match="no matching closing marker"):
        blocks(doc, doc.read_text())


def test_check_exits_1_naming_the_stale_block(project, monkeypatch, capsys):
    doc = _doc(project, "<!-- measurement:n bench/results/r.json -->0<!-- /measurement:n -->\n")
    monkeypatch.setattr(render_docs, "DOCS", (doc,))
    assert render_docs.main(["--check"]) == 1
    assert "differs from its sources: DOC.md: n <- bench/results/r.json" in capsys.readouterr().out
    assert doc.read_text().count(">0<") == 1  # --check writes nothing
    assert render_docs.main([]) == 0 and render_docs.main(["--check"]) == 0


# ---- what counts as a table of figures outside a block ------------------------------------------------

TABLE = "| shape | ms |\n| --- | ---: |\n| bs1 | 6.4 |\n"


def test_a_hand_written_table_is_found_with_its_line():
    assert loose_tables(f"# t\n\ntext\n\n{TABLE}") == [5]


def test_a_table_marked_without_figures_passes():
    assert loose_tables(f"<!-- no-figures: the options and their defaults -->\n{TABLE}") == []


def test_the_marker_needs_a_reason_and_must_sit_right_above():
    assert loose_tables(f"<!-- no-figures: -->\n{TABLE}") == [2]
    assert loose_tables(f"<!-- no-figures: options -->\n\n{TABLE}") == [3]


def test_tables_inside_blocks_and_code_fences_are_not_loose():
    block = f"<!-- measurement:count bench/results/r.json -->\n{TABLE}<!-- /measurement:count -->\n"
    assert loose_tables(block + f"```\n{TABLE}```\n") == []
    assert loose_tables(block + TABLE) == [6]


def test_a_renderer_gets_its_sources_in_the_order_the_marker_names_them(project, monkeypatch):
    (project / "bench" / "results" / "b.txt").write_text("text")
    monkeypatch.setitem(RENDERERS, "two", lambda a, b: f"{a.data['n']} {b.data}")
    doc = _doc(project, "<!-- measurement:two bench/results/r.json bench/results/b.txt -->x<!-- /measurement:two -->")
    assert render(blocks(doc, doc.read_text())[0]) == "3 text"


# ---- the repository stands on its own -------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
# A relative path that climbs: `../x`, `../../x/y` (not the `...` of an elided path).
CLIMBING = re.compile(r"(?<![\w.])((?:\.\./)+[\w.-]+(?:/[\w.-]+)*/?)")
# The sibling folder the project's work once kept beside the checkout, named as a path in any form.
SIBLING = re.compile(r"(?<![\w.-])(?:\.\./)*shared/[\w.-]+(?:/[\w.-]+)*/?")
MARKDOWN_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s#]+)(?:#[^)]*)?\)")


def _tracked() -> list[str]:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    # What a clone gets, and what the next commit adds: tracked files and new ones git does not ignore.
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [name for name in out.split("\0") if name]


def _texts(names: list[str]):
    for name in names:
        path = REPO / name
        if not path.is_file():
            continue  # deleted in the work tree, not yet committed
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            yield name, data.decode("utf-8")
        except UnicodeDecodeError:
            continue


def _inside(name: str, reference: str, known: set[str]) -> bool:
    """Does `reference`, written in the tracked file `name`, name a tracked file or folder of the repository?"""
    target = os.path.normpath(os.path.join(os.path.dirname(name), reference.rstrip("/").rstrip(".")))
    return not target.startswith("..") and not os.path.isabs(target) and target in known


def _known(names: list[str]) -> set[str]:
    known = set(names)
    for name in names:
        parent = os.path.dirname(name)
        while parent and parent not in known:
            known.add(parent)
            parent = os.path.dirname(parent)
    return known


def outside_references(texts, known: set[str]) -> list[str]:
    """`file:line: reference` for each path a tracked text file gives outside the repository: a `../`
    path that leaves it or names nothing tracked, and any path into the sibling `shared/` folder."""
    found = []
    for name, text in texts:
        for number, line in enumerate(text.splitlines(), 1):
            refs = [m[1] for m in CLIMBING.finditer(line) if not _inside(name, m[1], known)]
            refs += [m[0] for m in SIBLING.finditer(line)]
            refs += [
                m[1] for m in MARKDOWN_LINK.finditer(line) if name.endswith(".md") and not _inside(name, m[1], known)
            ]
            found += [f"{name}:{number}: {ref}" for ref in dict.fromkeys(refs)]
    return found


def test_no_tracked_file_refers_outside_the_repository():
    """A user's clone has only what git tracks: no file may send them to `../shared/...` or any other path
    beside or above the checkout, and every relative path or markdown link must name a tracked file."""
    names = _tracked()
    # This file spells the forbidden forms out to test the check: it is the one file not scanned.
    scanned = [name for name in names if name != "tests/unit/test_docs.py"]
    found = outside_references(_texts(scanned), _known(names))
    assert not found, "paths outside the repository (move what a user needs into it):\n" + "\n".join(found)


def test_the_outside_reference_check_finds_what_it_should():
    known = _known(["README.md", "docs/toolchain.md", "examples/conftest.py", "examples/sparse/test_sparse_gate.py"])
    texts = [
        ("constraints.txt", "# verified (see ../shared/TOOLCHAIN.md)\n"),
        ("pytest_qbench/measure/ov_session.py", "says f32 (../shared/TOOLCHAIN.md)\n"),  # inside, but not tracked
        ("bench/results/h.json", '"note": "raw artifacts added as shared/hosts/2026-12-02"\n'),
        ("docs/a.md", "see [the pins](toolchain.md) and [gone](../../elsewhere.md)\n"),
        ("examples/sparse/test_sparse_gate.py", "the data of ../conftest.py. A model '.../encoder'; a shared runner\n"),
        ("README.md", "[toolchain](docs/toolchain.md#pins), [site](https://example.org/x)\n"),
    ]
    assert outside_references(texts, known) == [
        "constraints.txt:1: ../shared/TOOLCHAIN.md",
        "pytest_qbench/measure/ov_session.py:1: ../shared/TOOLCHAIN.md",
        "bench/results/h.json:1: shared/hosts/2026-12-02",
        "docs/a.md:1: ../../elsewhere.md",
    ]
