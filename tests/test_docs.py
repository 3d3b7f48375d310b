"""The docs' tables of figures are rendered from the committed result files (bench/render_docs.py): a
block that differs from its sources fails, and so does a table of figures outside every block."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
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
    assert not lines, (f"{doc.name}: tables at lines {lines} are not rendered from a result file; render them"
                       " (bench/render_docs.py) or, when they hold no measured figure, mark them `<!-- no-figures: ... -->`")


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
    monkeypatch.setitem(RENDERERS, "count", lambda result: f"| n |\n| --- |\n| {result.data['n']} |\nfrom `{result.path}`")
    monkeypatch.setitem(RENDERERS, "n", lambda result: str(result.data["n"]))
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "r.json").write_text(json.dumps({"n": 3}))
    return tmp_path


def _doc(project: Path, text: str) -> Path:
    doc = project / "DOC.md"
    doc.write_text(text)
    return doc


def test_a_block_is_rendered_from_its_source_and_then_matches(project):
    doc = _doc(project, "# t\n\n<!-- measurement:count bench/results/r.json -->\nold\n<!-- /measurement:count -->\nafter\n")
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
    assert rendered(doc, doc.read_text())[0] == "It took <!-- measurement:n bench/results/r.json -->3<!-- /measurement:n --> runs.\n"


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
