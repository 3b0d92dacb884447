"""Work handed to Textual's ``run_worker`` as a callable, not a coroutine object.

A worker started with ``exclusive=True`` cancels the one before it; when that one had not
started yet, a coroutine object given to ``run_worker`` is never awaited and Python reports
it ("coroutine ... was never awaited") at garbage collection. Given the coroutine
*function*, Textual creates the coroutine only when the worker runs.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any


def deferred(work: Callable[[], Coroutine[Any, Any, None]]) -> Any:
    """``work`` (an ``async def`` taking no arguments, or a ``functools.partial`` of one),
    unchanged, typed for ``DOMNode.run_worker``: its ``WorkType`` union leaves mypy solving
    the result type to ``Never`` for any coroutine function, so the value is passed as
    ``Any``."""
    return work
