"""Embedding traces kept small: each vector stored as its dimensions and first values.

An embeddings answer carries one vector per input (1,536 floats for ``text-embedding-3-small``,
3,072 for ``gemini-embedding-001``); stored whole, one call would weigh hundreds of KiB. The
:class:`EmbeddingVectors` addon (``before_save``, after redaction) replaces, in the trace:

- each OpenAI ``data[i].embedding`` of ``response`` (a list of floats, or the base64 string of
  ``encoding_format: base64``, decoded as float32 little-endian) with
  ``{"dimensions": d, "values": [first N floats], "encoding_format": "float" | "base64"}``,
  and adds ``response.embeddings = {"count": n, "dimensions": d}``;
- every list of more than N numbers in ``native.response`` (the provider's own answer:
  Gemini ``values``, Ollama ``embeddings``, Cohere ``embeddings.float``) with
  ``{"dimensions": d, "values": [first N]}``.

N is ``storage.embedding_values`` (default 8). The client always gets whole vectors: this only
changes what is saved. The trace format: docs/trace-format.md, "Embeddings".
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

import msgspec

from traceforge_shared.trace import Trace

__all__ = ["EmbeddingVectors", "compact_vector", "is_embeddings_answer"]


def is_embeddings_answer(response: Any) -> bool:
    """Whether ``response`` is an OpenAI embeddings answer (``object: list`` whose ``data``
    items are ``object: embedding``)."""
    if not isinstance(response, dict):
        return False
    data = response.get("data")
    return (
        response.get("object") == "list"
        and isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and item.get("object") == "embedding" for item in data)
    )


def _is_vector(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    )


def compact_vector(vector: Any, keep: int) -> Any:
    """``{"dimensions", "values", "encoding_format"}`` for an OpenAI ``embedding`` value (a
    list of floats, or base64 float32 little-endian); ``vector`` unchanged when it is neither
    (already compacted, or something else)."""
    if isinstance(vector, str):
        try:
            raw = base64.b64decode(vector, validate=True)
        except (binascii.Error, ValueError):
            return vector
        count = len(raw) // 4
        head = struct.unpack(f"<{min(count, keep)}f", raw[: 4 * min(count, keep)])
        # float32 holds about 7 significant digits: print no more than it has.
        values = [float(f"{x:.8g}") for x in head]
        return {"dimensions": count, "values": values, "encoding_format": "base64"}
    if _is_vector(vector):
        return {"dimensions": len(vector), "values": vector[:keep], "encoding_format": "float"}
    return vector


def _compact_native(value: Any, keep: int) -> Any:
    """``value`` with every list of more than ``keep`` numbers replaced by its dimensions and
    first values (nested at any depth)."""
    if isinstance(value, dict):
        return {key: _compact_native(item, keep) for key, item in value.items()}
    if isinstance(value, list):
        if value and _is_vector(value) and len(value) > keep:
            return {"dimensions": len(value), "values": value[:keep]}
        return [_compact_native(item, keep) for item in value]
    return value


class EmbeddingVectors:
    """``before_save`` addon: embedding vectors stored as dimensions plus their first
    ``values`` floats (see the module docstring). Traces that are not embeddings answers
    pass unchanged.

    Args:
        values: floats kept per vector (``storage.embedding_values``); ``0`` keeps none.
    """

    def __init__(self, values: int = 8) -> None:
        self.values = values

    def before_save(self, trace: Trace) -> Trace:
        """Return ``trace`` with its embedding vectors compacted."""
        response = trace.response
        if not is_embeddings_answer(response):
            return trace
        data = [
            {**item, "embedding": compact_vector(item.get("embedding"), self.values)}
            for item in response["data"]
        ]
        shapes = {
            item["embedding"].get("dimensions")
            for item in data
            if isinstance(item["embedding"], dict)
        }
        summary = {"count": len(data), "dimensions": shapes.pop() if len(shapes) == 1 else None}
        changes: dict[str, Any] = {"response": {**response, "data": data, "embeddings": summary}}
        if trace.native is not None and trace.native.response is not None:
            changes["native"] = msgspec.structs.replace(
                trace.native, response=_compact_native(trace.native.response, self.values)
            )
        return msgspec.structs.replace(trace, **changes)
