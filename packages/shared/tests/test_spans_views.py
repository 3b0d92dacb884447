"""The run tree view: order, depth, orphans, cycles, waterfall bars and text guides."""

from __future__ import annotations

from traceforge_shared.testing import make_span
from traceforge_shared.views.runs import build_tree, tree_prefix, waterfall_bar

RUN = "4bf92f3577b34da6a3ce929d0e0e4736"


def sid(n: int) -> str:
    return f"{n:016x}"


def test_tree_order_depth_offsets() -> None:
    spans = [
        make_span(RUN, sid(3), parent=sid(1), name="tool", start_ms=50, duration_ms=30),
        make_span(RUN, sid(1), name="agent", duration_ms=100),
        make_span(
            RUN, sid(4), parent=sid(3), name="search", start_ms=55, duration_ms=10, status="error"
        ),
        make_span(RUN, sid(2), parent=sid(1), name="llm", start_ms=5, duration_ms=40),
    ]
    tree = build_tree(spans)
    assert [(n.span.name, n.depth) for n in tree.nodes] == [
        ("agent", 0),
        ("llm", 1),
        ("tool", 1),
        ("search", 2),
    ]
    assert [n.span.name for n in tree.roots] == ["agent"]
    assert [c.span.name for c in tree.roots[0].children] == ["llm", "tool"]
    assert tree.nodes[3].offset_ms == 55.0 and tree.nodes[3].duration_ms == 10.0
    assert (tree.trace_id, tree.span_count, tree.errors, tree.duration_ms) == (RUN, 4, 1, 100.0)
    assert [tree_prefix(n) for n in tree.nodes] == ["", "├─ ", "└─ ", "   └─ "]


def test_orphans_and_cycles_become_roots() -> None:
    spans = [
        make_span(RUN, sid(1), parent=sid(9), name="orphan", start_ms=10),  # parent never came
        make_span(RUN, sid(2), parent=sid(3), name="a", start_ms=20),
        make_span(RUN, sid(3), parent=sid(2), name="b", start_ms=30),  # a <-> b
        make_span(RUN, sid(4), parent=sid(4), name="self", start_ms=40),
        make_span(RUN, sid(1), parent=sid(9), name="orphan", start_ms=10),  # listed twice
    ]
    tree = build_tree(spans)
    assert tree.span_count == 4
    assert sorted(n.span.name for n in tree.nodes) == ["a", "b", "orphan", "self"]
    names = {n.span.name: n for n in tree.nodes}
    assert names["orphan"].orphan and names["orphan"].depth == 0
    assert not names["self"].orphan and names["self"].depth == 0
    assert {names["a"].depth, names["b"].depth} == {0, 1}


def test_waterfall_bars_stay_inside_the_width() -> None:
    spans = [
        make_span(RUN, sid(1), duration_ms=100),
        make_span(RUN, sid(2), parent=sid(1), start_ms=50, duration_ms=0.01),
        make_span(RUN, sid(3), parent=sid(1), start_ms=99.99, duration_ms=0.01),
    ]
    tree = build_tree(spans)
    bars = [waterfall_bar(n, tree, 40) for n in tree.nodes]
    assert bars == [(0, 40), (20, 1), (39, 1)]
    assert waterfall_bar(tree.nodes[0], tree, 0) == (0, 0)


def test_empty_and_instant_runs() -> None:
    assert build_tree([]).nodes == []
    tree = build_tree([make_span(RUN, sid(1), duration_ms=0)])
    assert waterfall_bar(tree.nodes[0], tree, 10) == (0, 10)
