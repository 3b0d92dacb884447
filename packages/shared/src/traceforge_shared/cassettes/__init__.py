"""Cassettes: recorded upstream calls the proxy replays (``traceforge start --mode replay``).

- :mod:`~traceforge_shared.cassettes.format`: the interaction file (:class:`Interaction`,
  YAML, redacted), the response header allowlist.
- :mod:`~traceforge_shared.cassettes.key`: request keys, field differences, nearest
  recording.
- :mod:`~traceforge_shared.cassettes.store`: cassette directories
  (``<home>/cassettes/<name>/``).

See docs/replay.md.
"""

from traceforge_shared.cassettes.format import (
    BREAK_CAUSES,
    CASSETTE_FORMAT,
    HEADER_ALLOWLIST,
    Interaction,
    Read,
    RecordedRequest,
    RecordedResponse,
    StreamBreak,
    dump_interaction,
    kept_header,
    load_interaction,
)
from traceforge_shared.cassettes.key import (
    VOLATILE_FIELDS,
    RequestView,
    canonical_request,
    field_diff,
    key_of,
    nearest,
    request_key,
    request_view,
)
from traceforge_shared.cassettes.store import (
    CASSETTES_DIRNAME,
    Cassette,
    CassetteError,
    cassettes_dir,
    check_name,
    interaction_filename,
    list_cassettes,
)

__all__ = [
    "BREAK_CAUSES",
    "CASSETTES_DIRNAME",
    "CASSETTE_FORMAT",
    "HEADER_ALLOWLIST",
    "VOLATILE_FIELDS",
    "Cassette",
    "CassetteError",
    "Interaction",
    "Read",
    "RecordedRequest",
    "RecordedResponse",
    "RequestView",
    "StreamBreak",
    "canonical_request",
    "cassettes_dir",
    "check_name",
    "dump_interaction",
    "field_diff",
    "interaction_filename",
    "kept_header",
    "key_of",
    "list_cassettes",
    "load_interaction",
    "nearest",
    "request_key",
    "request_view",
]
