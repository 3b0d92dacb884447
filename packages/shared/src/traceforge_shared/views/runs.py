"""A run as a tree: nodes with their children, depth and offsets for a waterfall.

Plain data for the CLI, the TUI and the web API (no rich/textual). Build it from the spans
:meth:`traceforge_shared.store.spans.SpanStore.get_run` returns (any order works).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from traceforge_shared.spans import Span


@dataclass(eq=False)
class RunNode:
    """One span in its run's tree.

    Attributes:
        span: the span.
        depth: 0 for a root, parent's depth + 1 below.
        children: its child spans' nodes, by start.
        offset_ms: ms from the run's start to this span's start.
        duration_ms: this span's duration in ms.
        orphan: its parent id is set but no span of the run has it (the parent was never
            received, or is outside TraceForge): shown as a root.
        last: it is the last of its siblings (for tree guides).
        parent: its parent node (``None`` for roots).
    """

    span: Span
    depth: int = 0
    children: list[RunNode] = field(default_factory=list)
    offset_ms: float = 0.0
    duration_ms: float = 0.0
    orphan: bool = False
    last: bool = True
    parent: RunNode | None = None


@dataclass(eq=False)
class RunTree:
    """A run's spans as a tree.

    Attributes:
        trace_id: the run id ("" for no spans).
        roots: the root nodes by start.
        nodes: every node in display order (depth first; each node before its children).
        start_ns: the earliest span start (Unix epoch ns).
        end_ns: the latest span end.
        duration_ms: ``end_ns - start_ns`` in ms.
        span_count: number of spans.
        errors: spans with status ``error``.
    """

    trace_id: str
    roots: list[RunNode]
    nodes: list[RunNode]
    start_ns: int
    end_ns: int
    duration_ms: float
    span_count: int
    errors: int


def build_tree(spans: Sequence[Span]) -> RunTree:
    """Arrange one run's spans as a tree (cycle-safe: a span in a parent cycle becomes a
    root; a span listed twice is shown once)."""
    unique: dict[str, Span] = {}
    for span in spans:
        unique[span.span_id] = span
    if not unique:
        return RunTree("", [], [], 0, 0, 0.0, 0, 0)
    start = min(s.start_ns for s in unique.values())
    end = max(s.end_ns for s in unique.values())
    nodes = {
        sid: RunNode(span=s, offset_ms=(s.start_ns - start) / 1e6, duration_ms=s.duration_ms)
        for sid, s in unique.items()
    }
    kids: dict[str | None, list[RunNode]] = defaultdict(list)
    for sid, node in nodes.items():
        parent = node.span.parent_span_id
        if parent is not None and (parent not in nodes or parent == sid):
            node.orphan = parent != sid
            parent = None
        kids[parent].append(node)
    for group in kids.values():
        group.sort(key=lambda n: (n.span.start_ns, n.span.span_id))
    order: list[RunNode] = []
    seen: set[str] = set()

    def walk(roots: list[RunNode]) -> None:
        stack: list[tuple[RunNode, int, RunNode | None]] = [
            (node, 0, None) for node in reversed(roots)
        ]
        while stack:
            node, depth, parent = stack.pop()
            if node.span.span_id in seen:
                continue
            seen.add(node.span.span_id)
            node.depth, node.parent = depth, parent
            if parent is not None:
                parent.children.append(node)
            order.append(node)
            stack += [
                (child, depth + 1, node) for child in reversed(kids.get(node.span.span_id, []))
            ]

    roots = list(kids.get(None, []))
    walk(roots)
    while len(seen) < len(nodes):  # a parent cycle: start from its earliest span
        rest = min(
            (n for sid, n in nodes.items() if sid not in seen),
            key=lambda n: (n.span.start_ns, n.span.span_id),
        )
        roots.append(rest)
        walk([rest])
    for group in [roots, *(n.children for n in order)]:
        for i, node in enumerate(group):
            node.last = i == len(group) - 1
    first = next(iter(unique.values()))
    return RunTree(
        trace_id=first.trace_id,
        roots=roots,
        nodes=order,
        start_ns=start,
        end_ns=end,
        duration_ms=(end - start) / 1e6,
        span_count=len(unique),
        errors=sum(1 for s in unique.values() if s.status == "error"),
    )


def waterfall_bar(node: RunNode, tree: RunTree, width: int) -> tuple[int, int]:
    """Where ``node``'s bar goes in a waterfall ``width`` columns wide: ``(start column,
    length)``, the length at least 1 and the bar inside ``width``."""
    if width <= 0:
        return (0, 0)
    total = tree.duration_ms
    if total <= 0:
        return (0, width)
    start = min(width - 1, int(node.offset_ms / total * width))
    length = max(1, round(node.duration_ms / total * width))
    return (start, min(length, width - start))


def tree_prefix(node: RunNode) -> str:
    """The guide drawn before a node's name in a text tree (``├─ ``, ``└─ ``, ``│  ``)."""
    parts: list[str] = []
    ancestor = node.parent
    while ancestor is not None and ancestor.parent is not None:
        parts.append("   " if ancestor.last else "│  ")
        ancestor = ancestor.parent
    guides = "".join(reversed(parts))
    if node.parent is None:
        return ""
    return guides + ("└─ " if node.last else "├─ ")
