"""The OpenTelemetry GenAI names TraceForge exports under, one set per naming generation.

``export.otlp.semconv`` picks the set:

- ``v0.1`` (the default): the GenAI conventions' own repository,
  https://github.com/open-telemetry/semantic-conventions-genai, which has published no
  release or tag: ``v0.1`` is TraceForge's name for its ``main`` branch as read at commit
  ``024a4f944a1291fcb627c9c47da69e79868dd15e`` (``docs/gen-ai/client-inference.md``: span
  ``gen_ai.client.inference``, provider ``gen_ai.provider.name``, cache tokens
  ``gen_ai.usage.cache_read.input_tokens`` / ``gen_ai.usage.cache_write.input_tokens``,
  reasoning ``gen_ai.usage.reasoning.output_tokens``, metrics
  ``gen_ai.client.inference.duration`` and ``gen_ai.client.inference.time_to_first_chunk``)
  and commit ``32c328e85013588c6fe32ebc30934ab5b1752b6a``
  (``docs/gen-ai/non-normative/migration.md``: ``cache_creation`` → ``cache_write`` in genai
  PR #440; ``gen_ai.client.operation.duration`` → ``gen_ai.client.inference.duration`` for
  inference and ``gen_ai.client.operation.time_to_first_chunk`` →
  ``gen_ai.client.inference.time_to_first_chunk`` in genai PR #521). Its schema URL is the
  one ``model/manifest.yaml`` declares, a development one,
  ``https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev`` (stability ``development``, on
  core semantic conventions 1.44.0); the README's "Schema URL" says ``TODO`` since genai
  PR #241, which withdrew ``https://opentelemetry.io/schemas/gen-ai/1.42.0``. Read in
  ``lmolkova/semantic-conventions-genai`` ``model/manifest.yaml`` at commit
  ``50b7ed5883be6bda4405dff00895a26a59278f76`` (the manifest of the upstream itself was not
  in the searchable index; instrumentations pinning upstream commits such as
  ``e07f4ebacb08f56db8c4c882d117720333fbca04`` quote the same URL).
- ``legacy``: the names instrumentations emitted before the 2026 split (core semantic
  conventions up to v1.36, https://github.com/open-telemetry/semantic-conventions/blob/v1.36.0/docs/gen-ai/):
  ``gen_ai.system``, ``gen_ai.usage.cache_creation.input_tokens``, metrics
  ``gen_ai.client.operation.duration`` and ``gen_ai.server.time_to_first_token``; no
  reasoning-token attribute (none was named).

Both sets share ``gen_ai.operation.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens``/``output_tokens``,
``gen_ai.response.finish_reasons``, ``gen_ai.input.messages``/``gen_ai.output.messages``,
``server.address`` and ``error.type``. Durations are histograms in seconds (``s``), as the
conventions specify.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DURATION_BUCKETS_S",
    "EXPORTED_MARK",
    "LEGACY",
    "SEMCONV_SETS",
    "SEMCONV_VERSIONS",
    "V0_1",
    "Semconv",
    "SemconvNames",
    "names_for",
]

#: The values ``export.otlp.semconv`` takes.
Semconv = Literal["v0.1", "legacy"]
SEMCONV_VERSIONS: tuple[str, ...] = ("v0.1", "legacy")

#: Bucket boundaries (seconds) the conventions advise for GenAI duration histograms
#: (``ExplicitBucketBoundaries`` of ``gen_ai.client.operation.duration``).
DURATION_BUCKETS_S: tuple[float, ...] = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)


@dataclass(frozen=True, kw_only=True)
class SemconvNames:
    """Attribute and metric names of one naming generation.

    Attributes:
        version: ``v0.1`` or ``legacy``.
        schema_url: the ``schema_url`` set on the exported resource and scope.
        provider: the provider attribute (``gen_ai.provider.name`` / ``gen_ai.system``).
        cache_read_tokens: input tokens read from the provider's prompt cache.
        cache_write_tokens: input tokens written to it.
        reasoning_tokens: output tokens spent reasoning; ``None`` when the set names none.
        duration_metric: the call-duration histogram (seconds).
        first_chunk_metric: the time-to-first-chunk histogram (seconds, streams only).
    """

    version: str
    schema_url: str
    provider: str
    cache_read_tokens: str
    cache_write_tokens: str
    reasoning_tokens: str | None
    duration_metric: str
    first_chunk_metric: str


#: The 2026 GenAI conventions (semantic-conventions-genai, unreleased: see the module
#: docstring for the commits read). The schema URL is the development one its
#: ``model/manifest.yaml`` declares; no ``gen-ai/0.1.0`` schema was ever published.
V0_1 = SemconvNames(
    version="v0.1",
    schema_url="https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev",
    provider="gen_ai.provider.name",
    cache_read_tokens="gen_ai.usage.cache_read.input_tokens",
    cache_write_tokens="gen_ai.usage.cache_write.input_tokens",
    reasoning_tokens="gen_ai.usage.reasoning.output_tokens",
    duration_metric="gen_ai.client.inference.duration",
    first_chunk_metric="gen_ai.client.inference.time_to_first_chunk",
)

#: The pre-2026 names (core semantic conventions v1.36 and before).
LEGACY = SemconvNames(
    version="legacy",
    schema_url="https://opentelemetry.io/schemas/1.36.0",
    provider="gen_ai.system",
    cache_read_tokens="gen_ai.usage.cache_read.input_tokens",
    cache_write_tokens="gen_ai.usage.cache_creation.input_tokens",
    reasoning_tokens=None,
    duration_metric="gen_ai.client.operation.duration",
    first_chunk_metric="gen_ai.server.time_to_first_token",
)

SEMCONV_SETS: dict[str, SemconvNames] = {"v0.1": V0_1, "legacy": LEGACY}

# Names both generations share.
OPERATION = "gen_ai.operation.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
CONVERSATION_ID = "gen_ai.conversation.id"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

#: Resource attribute (``true``) on everything a TraceForge exports. An OTLP ingest that
#: receives a span under it stores the span but does not export it again, so two TraceForges
#: exporting to each other (directly or through a Collector) never bounce a span back and
#: forth (docs/otel.md, "Export").
EXPORTED_MARK = "traceforge.exported"


def names_for(version: str) -> SemconvNames:
    """The name set of ``version`` (``v0.1`` or ``legacy``).

    Raises:
        ValueError: another version.
    """
    try:
        return SEMCONV_SETS[version]
    except KeyError:
        raise ValueError(
            f"unknown semconv {version!r}; one of {', '.join(SEMCONV_VERSIONS)}"
        ) from None
