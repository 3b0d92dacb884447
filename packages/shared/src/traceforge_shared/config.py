"""TraceForge configuration: ``.ai-tests/config.yaml`` read into a typed :class:`Config`.

The file is optional; every field has a default. Unknown keys are errors (a typo must not be
silently ignored). Errors name the file, the line and the field::

    .ai-tests/config.yaml:4: proxy.port: Expected `int` <= 65535
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from traceforge_shared.errors import FileProblem
from traceforge_shared.providers import provider_names
from traceforge_shared.yamlfile import (
    YamlProblem,
    line_of,
    round_trip_loader,
    split_path,
    to_plain,
)

#: Directory name of the TraceForge home inside a project.
DEFAULT_HOME_DIRNAME = ".ai-tests"

#: Environment variable that moves the whole TraceForge home (traces, config, tests).
HOME_ENV = "TRACEFORGE_HOME"

#: The real OpenAI API, used as the ``openai`` upstream when an API key is available.
OPENAI_BASE_URL = "https://api.openai.com/v1"

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
#: An http(s) base URL (checked by :mod:`traceforge_shared.configcheck`).
HttpUrl = Annotated[str, msgspec.Meta(extra={"check": "url"})]
#: An ``fnmatch`` glob, e.g. ``gpt-*`` (checked by :mod:`traceforge_shared.configcheck`).
Glob = Annotated[str, msgspec.Meta(extra={"check": "glob"})]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]

#: Providers the proxy can route to (keys of ``upstreams:`` in config.yaml), in registry
#: order (:data:`traceforge_shared.providers.PROVIDER_SPECS`).
PROVIDERS = provider_names()


class ProxyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where the proxy listens and how it talks to upstreams.

    Attributes:
        host: interface to bind; ``127.0.0.1`` so nothing outside this machine can connect.
        port: TCP port (0 picks a free one).
        connect_timeout_s: seconds to wait for the upstream connection.
        read_timeout_s: seconds to wait for each read from the upstream (between chunks), not
            for the whole answer, so long streams are never cut.
        max_connections: upstream connection pool size (caps concurrent upstream calls).
        chunk_cap: chunks kept per streamed trace; past it chunks are still forwarded and
            counted but not stored.
        stream_coalesce_ms: while other calls are in flight and an upstream sends a stream
            in a burst (reads less than 3 times this apart), the proxy reads it at most every
            this many milliseconds, so the app gets fewer, larger writes and the proxy, the
            app and the upstream spend less CPU per chunk; chunks sent further apart, and a
            lone call's, are relayed as they come. Chunk times in the trace are when the
            proxy read them. ``0``: read every piece as it arrives.
        default_provider: provider for OpenAI-format requests whose model matches no
            provider's patterns; ``None`` (default): such requests get a 400 that lists the
            patterns, rather than a guess.
        unsupported_params: converted route (Anthropic, Gemini, Ollama, Cohere), an OpenAI
            parameter the provider cannot take: ``error`` (default) answers 400
            ``unsupported_parameter``; ``drop`` sends the request without it and notes it in
            the trace's warnings.
    """

    host: str = "127.0.0.1"
    port: Port = 8787
    connect_timeout_s: PositiveFloat = 10.0
    read_timeout_s: PositiveFloat = 300.0
    max_connections: PositiveInt = 100
    chunk_cap: PositiveInt = 10_000
    stream_coalesce_ms: Annotated[float, msgspec.Meta(ge=0, le=100)] = 1.0
    default_provider: str | None = None
    unsupported_params: Literal["error", "drop"] = "error"

    def __post_init__(self) -> None:
        if self.default_provider is not None and self.default_provider not in PROVIDERS:
            raise ValueError(
                f"unknown provider {self.default_provider!r}; known: {', '.join(PROVIDERS)}"
            )


class UpstreamConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One provider's upstream (a key of ``upstreams:``, one of :data:`PROVIDERS`).

    Attributes:
        base_url: the provider's API base. For OpenAI-compatible providers (openai, xai) it
            includes the version path (``https://api.openai.com/v1``); for the others it is the
            host root (``https://api.anthropic.com``, ``http://localhost:11434``); for azure,
            ``https://<resource>.openai.azure.com``. ``None``: the provider's real API when its
            key variable is set (Ollama: when ``OLLAMA_HOST`` is set), else TraceForge's
            embedded mock upstream.
        api_key_env: environment variable holding the key the proxy sends when the client
            sends none; ``None``: the provider's usual one (``OPENAI_API_KEY``,
            ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY``, ``XAI_API_KEY``, ``CO_API_KEY``,
            ``AZURE_OPENAI_API_KEY``).
        inject_stream_usage: ask for ``stream_options.include_usage`` on OpenAI-format
            streams whose client did not, so streamed traces have token usage. The extra usage
            chunk is recorded but not forwarded. ``None`` (default): on for the real OpenAI API
            and the embedded mock, off for other upstreams, because some OpenAI-compatible
            servers answer 400/422 to ``stream_options``.
        models: glob patterns (case-insensitive) of the model names routed to this provider
            on ``/v1/chat/completions``, replacing its defaults (``claude-*`` for anthropic).
        deployments: azure only: model name → deployment name; these models go to Azure.
        api_version: azure only: the ``api-version`` query parameter.
    """

    base_url: HttpUrl | None = None
    api_key_env: str | None = None
    inject_stream_usage: bool | None = None
    models: list[Glob] | None = None
    deployments: dict[str, str] = msgspec.field(default_factory=dict)
    api_version: str = "2024-10-21"


class StorageConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How many traces to keep, and how hard to make each one durable.

    Attributes:
        max_traces: the oldest traces beyond this many are deleted (``None``: no limit).
        retention_days: traces older than this many days are deleted (``None``: keep).
        fsync: flush each trace file to disk before renaming it into place. Either way a
            trace file is whole or absent, whatever happens to the proxy process; with fsync
            it also survives a power loss or OS crash, at the cost of a disk flush per trace
            (about 2 ms on the benchmark machine, a limit of a few hundred traces/s).
        unsaved_queue_mb: while traces cannot be saved (disk full, read-only), the proxy
            holds them in memory, up to this many MiB of encoded trace JSON, and retries;
            beyond it the oldest unsaved traces are dropped (and counted in ``/healthz``).
        embedding_values: how many values of each embedding vector a trace keeps (with the
            vector's dimensions); the client always gets whole vectors. ``0``: none.
        writer: where traces are built, redacted, priced, saved and exported: ``process``
            (a writer process of its own, off the proxy's GIL) or ``thread`` (a thread of
            the proxy). ``None`` (the default): ``$TRACEFORGE_STORAGE_WRITER`` if set, else
            ``process`` for ``traceforge start`` and ``thread`` for a proxy embedded in
            another program (tests, ``traceforge test run``). Add-ons that must rewrite
            traces in the proxy (cassettes, replay from traces) always use ``thread``.
    """

    max_traces: PositiveInt | None = 10_000
    retention_days: PositiveInt | None = 30
    fsync: bool = False
    unsaved_queue_mb: PositiveInt = 64
    embedding_values: Annotated[int, msgspec.Meta(ge=0)] = 8
    writer: Literal["process", "thread"] | None = None


class CustomPattern(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A user-defined kind of secret.

    Attributes:
        name: kind name (letters, digits, ``_``); matches become ``[NAME_REDACTED]``.
        regex: Python regular expression.
        secret: also checked by the pre-commit hook's default (secrets-only) scan.
    """

    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    regex: str
    secret: bool = True

    def __post_init__(self) -> None:
        try:
            re.compile(self.regex)
        except re.error as exc:
            raise ValueError(f"invalid regex {self.regex!r}: {exc}") from None


class RedactionConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What is replaced before a trace is saved (request, response, chunks, headers, errors).

    Attributes:
        enabled: redact at all (credential headers are always redacted).
        kinds: turn built-in kinds on or off, e.g. ``{ipv4: false}``; every kind defaults to
            on. Kinds: those of ``traceforge_shared.redact.KINDS`` (api_key, bearer, jwt,
            private_key, stripe_key, aws_secret_key, url_password, email, phone, card, iban,
            ipv4, ipv6, auth_header...) and sensitive_keys (values of JSON fields such as
            ``password`` or ``api_key``).
        patterns: extra kinds of your own.
        allowlist: exact strings never redacted (a public test email, a loopback address).
        sensitive_keys: extra JSON field names whose values are always redacted (and
            header names, for the ``auth_header`` kind).
        deterministic: markers carry a short keyed hash of the value
            (``[EMAIL_REDACTED:3f2a]``) so diffs and replays still match.
    """

    enabled: bool = True
    kinds: dict[str, bool] = msgspec.field(default_factory=dict)
    patterns: list[CustomPattern] = msgspec.field(default_factory=list)
    allowlist: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1", "0.0.0.0"])
    sensitive_keys: list[str] = msgspec.field(default_factory=list)
    deterministic: bool = False

    def __post_init__(self) -> None:
        from traceforge_shared.redact.detectors import KINDS

        known = (*KINDS, "sensitive_keys")
        unknown = sorted(set(self.kinds) - set(known))
        if unknown:
            raise ValueError(
                f"unknown redaction kind(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )


class ApiConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``api:`` section: the REST API of ``traceforge start``.

    Attributes:
        allowed_hosts: host names (``Host`` header, any port) the API answers to besides
            ``127.0.0.1``, ``localhost`` and ``[::1]``; others get ``421`` (DNS rebinding),
            and writes from web pages of other hosts ``403``. ``"*"`` allows any host.
    """

    allowed_hosts: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        host = re.compile(r"\*|[A-Za-z0-9_-][A-Za-z0-9._-]*(:\d+)?|\[[0-9A-Fa-f:.]+\](:\d+)?")
        bad = [name for name in self.allowed_hosts if not host.fullmatch(name)]
        if bad:
            raise ValueError(
                f"not a host name: {', '.join(map(repr, bad))} (write e.g. my-laptop.lan)"
            )


class BudgetConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One entry of ``budgets:``: a spending limit per period, enforced by the proxy (see
    docs/configuration.md, "Budgets", and :mod:`traceforge_shared.budgets`).

    Attributes:
        name: the budget's name (letters, digits, ``_ . -``), shown in alerts, the
            ``X-TraceForge-Budget`` header and ``traceforge budget status``.
        limit_usd: limit on the cost in USD of the period's calls (calls of models without a
            known price count as unknown, not as 0). Exactly one of ``limit_usd`` and
            ``limit_tokens``.
        limit_tokens: limit on the total tokens (input + output) of the period's calls.
        period: ``day`` or ``month``, in UTC.
        provider: only calls routed to this provider (``openai``, ``anthropic``...).
        model: only calls whose model matches this glob (``gpt-4o*``).
        tag: only calls whose ``X-TraceForge-Tags`` request header (comma-separated) has it.
        session: only calls whose ``X-TraceForge-Session-Id`` request header is this.
        action: ``warn`` (alerts only) or ``block`` (once spent, calls get a 429
            ``budget_exceeded`` answered by the proxy, without calling the upstream).
        alert_at: fractions of the limit at which the console alerts, once per period each.
    """

    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    limit_usd: PositiveFloat | None = None
    limit_tokens: PositiveInt | None = None
    period: Literal["day", "month"] = "day"
    provider: str | None = None
    model: Glob | None = None
    tag: str | None = None
    session: str | None = None
    action: Literal["warn", "block"] = "warn"
    alert_at: list[PositiveFloat] = msgspec.field(default_factory=lambda: [0.8, 1.0])

    def __post_init__(self) -> None:
        if (self.limit_usd is None) == (self.limit_tokens is None):
            raise ValueError(f"budget {self.name!r}: set exactly one of limit_usd, limit_tokens")
        if self.provider is not None and self.provider not in PROVIDERS:
            raise ValueError(
                f"budget {self.name!r}: unknown provider {self.provider!r}; "
                f"known: {', '.join(PROVIDERS)}"
            )


class OtlpExportConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``export.otlp``: every saved trace sent on as an OpenTelemetry GenAI span, and every span
    ingested by the web API as it is stored (docs/otel.md, "Export";
    :mod:`traceforge_shared.otel.export_sdk`). Off unless ``endpoint`` or ``file`` is set.

    Attributes:
        endpoint: OTLP/HTTP base URL (``http://collector:4318``); spans go to
            ``<endpoint>/v1/traces`` and the duration metrics to ``<endpoint>/v1/metrics``
            (a URL already ending in ``/v1/traces`` is used as is, without metrics).
        headers: HTTP headers sent with every export (e.g. ``Authorization``); empty: the
            ``OTEL_EXPORTER_OTLP_HEADERS`` environment variable, if set.
        file: also (or instead) append OTLP/JSON lines to this file, one
            ``ExportTraceServiceRequest`` per line (relative paths: to the TraceForge home).
        file_max_mb: rotate the file past this size (MiB): ``file`` becomes ``file.1``, ...
        file_backups: rotated files kept (``file.1`` to ``file.N``); older ones are deleted.
        semconv: attribute and metric names: ``v0.1`` (the 2026 GenAI conventions) or
            ``legacy`` (``gen_ai.system``, ``gen_ai.usage.cache_creation.input_tokens``,
            ``gen_ai.client.operation.duration``).
        capture_content: add the (redacted) messages as ``gen_ai.input.messages`` /
            ``gen_ai.output.messages``.
        timeout_s: seconds per export request, retries included (the exporter retries
            429/502/503/504 with exponential backoff).
        service_name: the ``service.name`` resource attribute.
    """

    endpoint: HttpUrl | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    file: str | None = None
    file_max_mb: PositiveInt = 64
    file_backups: Annotated[int, msgspec.Meta(ge=0, le=100)] = 5
    semconv: Literal["v0.1", "legacy"] = "v0.1"
    capture_content: bool = False
    timeout_s: PositiveFloat = 10.0
    service_name: Annotated[str, msgspec.Meta(min_length=1)] = "traceforge"

    @property
    def enabled(self) -> bool:
        """Whether anything is exported (an endpoint or a file is set)."""
        return self.endpoint is not None or self.file is not None


class ExportConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``export:`` section: sending traces on to other tools (``otlp``: OpenTelemetry)."""

    otlp: OtlpExportConfig = msgspec.field(default_factory=OtlpExportConfig)


#: The themes the TUI offers (Textual's own names).
TUI_THEMES = ("textual-dark", "textual-light")


class TuiConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``tui:`` section: the TUI's remembered choices (written by the TUI itself through
    :func:`traceforge_shared.configfile.update_config` when they change).

    Attributes:
        theme: one of :data:`TUI_THEMES`.
        hide_test_traffic: hide the calls made by ``traceforge test run`` (traces whose
            ``meta["source"]`` is ``test``) in the trace list and the dashboard.
    """

    theme: str = "textual-dark"
    hide_test_traffic: bool = False

    def __post_init__(self) -> None:
        if self.theme not in TUI_THEMES:
            raise ValueError(
                f"unknown theme {self.theme!r}; expected one of {', '.join(TUI_THEMES)}"
            )


class ReplayConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``replay:`` section: defaults of ``traceforge start --mode record|replay|auto``
    (docs/replay.md).

    Attributes:
        ignore_fields: request body fields left out of the request key besides the volatile
            ones (``temperature``, ``metadata.user_id``, ``messages[*].name``,
            ``**.cache_control``); ``--ignore-field`` adds more.
        timing: replay pacing: ``recorded``, ``fast`` or ``scale:X``.
        on_miss: ``--mode replay``: what a request with no recording does: ``error`` (a 400
            naming the nearest recording), ``record`` or ``passthrough``.
    """

    ignore_fields: list[str] = msgspec.field(default_factory=list)
    timing: Annotated[str, msgspec.Meta(pattern=r"^(recorded|fast|scale:\d+(\.\d+)?)$")] = (
        "recorded"
    )
    on_miss: Literal["error", "record", "passthrough"] = "error"


def _default_upstreams() -> dict[str, UpstreamConfig]:
    return {"openai": UpstreamConfig()}


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole ``config.yaml``. See :data:`DEFAULT_CONFIG_YAML` for a commented example."""

    proxy: ProxyConfig = msgspec.field(default_factory=ProxyConfig)
    upstreams: dict[str, UpstreamConfig] = msgspec.field(default_factory=_default_upstreams)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    redaction: RedactionConfig = msgspec.field(default_factory=RedactionConfig)
    api: ApiConfig = msgspec.field(default_factory=ApiConfig)
    budgets: list[BudgetConfig] = msgspec.field(default_factory=list)
    export: ExportConfig = msgspec.field(default_factory=ExportConfig)
    tui: TuiConfig = msgspec.field(default_factory=TuiConfig)
    replay: ReplayConfig = msgspec.field(default_factory=ReplayConfig)

    def __post_init__(self) -> None:
        names = [b.name for b in self.budgets]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"budget name(s) used twice: {', '.join(repeated)}")
        unknown = sorted(set(self.upstreams) - set(PROVIDERS))
        if unknown:
            raise ValueError(
                f"unknown provider(s) under upstreams: {', '.join(unknown)}; "
                f"known: {', '.join(PROVIDERS)}"
            )


DEFAULT_CONFIG_YAML = """\
# TraceForge configuration. Every key is optional; these are the defaults.
proxy:
  host: 127.0.0.1          # bind address; keep it local
  port: 8787               # apps use base_url=http://127.0.0.1:8787/v1
  connect_timeout_s: 10    # seconds to connect to the upstream
  read_timeout_s: 300      # seconds between two reads from the upstream (not a total limit)
  max_connections: 100     # upstream connection pool size
  chunk_cap: 10000         # SSE chunks stored per trace; later chunks are forwarded, not stored
  stream_coalesce_ms: 1    # a stream sent in a burst is read at most every 1 ms (0: every piece)
  # default_provider: openai  # for models no pattern matches (default: answer 400)
  # unsupported_params: drop  # Claude/Gemini/Ollama/Cohere, a parameter they can't take: send
  #                           # without it, warn in the trace (default error: answer 400)
upstreams:                 # one entry per provider: openai anthropic gemini ollama xai cohere azure
                           # groq deepseek mistral openrouter together fireworks openai-compatible
  openai: {}               # every key is optional:
    # base_url: https://api.openai.com/v1   # unset: OpenAI if $OPENAI_API_KEY is set, else the mock
    # api_key_env: OPENAI_API_KEY          # sent when the client sends no key; default: the
    #                                      # provider's usual variable (ANTHROPIC_API_KEY, ...)
    # inject_stream_usage: true            # ask for usage on streams (recorded, not forwarded);
    #                                      # default: on for OpenAI and the mock only
    # models: ['gpt-*', 'o1*', 'o3*', 'o4*', 'chatgpt-*', 'text-*']  # routed here (globs)
  # anthropic: {models: ['claude-*']}      # base_url default: https://api.anthropic.com
  # gemini: {models: ['gemini-*']}         # key: $GEMINI_API_KEY or $GOOGLE_API_KEY
  # ollama: {base_url: 'http://localhost:11434'}  # unset and no $OLLAMA_HOST: the mock
  # groq: {}                               # key: $GROQ_API_KEY; models: 'groq/<model>'
  # openai-compatible: {base_url: 'http://localhost:8000/v1'}  # vLLM, LM Studio, llama.cpp
  # azure:
  #   base_url: https://my-resource.openai.azure.com
  #   deployments: {gpt-4o: my-gpt4o-deployment}   # model -> deployment
  #   api_version: '2024-10-21'
storage:
  max_traces: 10000        # oldest traces beyond this are deleted
  retention_days: 30       # traces older than this are deleted
  fsync: false             # true: flush every trace to disk (survives power loss; slower)
  unsaved_queue_mb: 64     # disk full or read-only: hold this much unsaved in memory, retry
  embedding_values: 8      # values kept per embedding vector in a trace (clients get all)
  writer: null             # process | thread; null: process for traceforge start
redaction:                 # applied to what is stored; the app and upstream see the originals
  enabled: true
  kinds: {}                # every kind is on unless turned off here, e.g. {ipv4: false}
  # kinds: api_key bearer jwt private_key stripe_key aws_secret_key slack_webhook
  #   google_oauth twilio_key sendgrid_key azure_key huggingface_token groq_key url_password
  #   email phone card iban ssn ipv4 ipv6 auth_header sensitive_keys
  allowlist: [127.0.0.1, 0.0.0.0]   # exact strings never redacted
  sensitive_keys: []       # more JSON field names whose values are secrets
  patterns: []             # your own, e.g. [{name: employee_id, regex: 'EMP-\\d{6}'}]
  deterministic: false     # markers carry a keyed hash of the value: [EMAIL_REDACTED:3f2a]
# api:                     # the REST API of `traceforge start`
#   allowed_hosts: []      # Host names it answers besides 127.0.0.1, localhost, [::1]
# budgets:                 # spending limits the proxy enforces (docs/configuration.md)
#   - name: daily
#     limit_usd: 5         # or limit_tokens: 1000000
#     period: day          # day | month (UTC)
#     model: 'gpt-4o*'     # optional scope: provider, model (glob), tag, session
#     action: warn         # warn: console alerts; block: 429 budget_exceeded once spent
#     alert_at: [0.8, 1.0]
# export:
#   otlp:                  # every saved trace as an OpenTelemetry GenAI span (docs/otel.md)
#     endpoint: http://127.0.0.1:4318   # OTLP/HTTP collector; /v1/traces and /v1/metrics
#     headers: {}          # e.g. {Authorization: 'Bearer ...'}; default $OTEL_EXPORTER_OTLP_HEADERS
#     file: otlp/traces.jsonl   # OTLP/JSON lines for a Collector's otlpjsonfile receiver
#     file_max_mb: 64      # rotate past this size, keeping file_backups (5) old files
#     semconv: v0.1        # v0.1 | legacy (gen_ai.system, gen_ai.client.operation.duration)
#     capture_content: false  # true: add the redacted messages (gen_ai.input.messages ...)
# tui:                     # remembered by the TUI when changed there
#   theme: textual-dark    # textual-dark | textual-light (ctrl+t)
#   hide_test_traffic: false  # hide `traceforge test run` calls (x)
# replay:                  # traceforge start --mode record|replay|auto (docs/replay.md)
#   ignore_fields: []      # body fields not matched, e.g. [temperature, 'messages[*].name']
#   timing: recorded       # recorded | fast | scale:0.5
#   on_miss: error         # error (400 naming the nearest recording) | record | passthrough
"""


class ConfigError(FileProblem):
    """A config file that cannot be used: a :class:`~traceforge_shared.errors.FileProblem`
    (``path``, ``line``, ``field``, ``reason``; ``str()`` is ``path:line: field: reason``).

    Args:
        path: the file.
        message: what is wrong.
        line: 1-based line of the offending value, when known.
        field: dotted path of the offending field (``proxy.port``), when known.
    """

    path: Path

    def __init__(
        self, path: Path, message: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(path, message, line=line, field=field)


class ConfigErrors(ConfigError):
    """Every problem of a config file (:mod:`traceforge_shared.configcheck`), at least one.

    ``path``, ``line``, ``field`` and ``reason`` are those of the first problem (so code that
    handles one :class:`ConfigError` still works); ``str()`` is one line per problem,
    ``path:line: field: reason``.

    Args:
        problems: the problems, in file order.
    """

    def __init__(self, problems: list[FileProblem]) -> None:
        first = problems[0]
        super().__init__(path_of(first), first.reason, line=first.line, field=first.field)
        self.problems = problems

    def __str__(self) -> str:
        """One line per problem."""
        return "\n".join(FileProblem.__str__(p) for p in self.problems)


def path_of(problem: FileProblem) -> Path:
    """The file of ``problem`` (``config.yaml`` when it names none)."""
    return problem.path if problem.path is not None else Path("config.yaml")


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """Return the TraceForge home: ``home`` if given, else ``$TRACEFORGE_HOME``, else
    ``./.ai-tests``."""
    if home is not None:
        return Path(home)
    env = os.environ.get(HOME_ENV)
    return Path(env) if env else Path.cwd() / DEFAULT_HOME_DIRNAME


def config_path(home: Path) -> Path:
    """Return the path of ``config.yaml`` inside ``home``."""
    return home / "config.yaml"


_PATH_RE = re.compile(r"`\$((?:\.[A-Za-z_][\w-]*|\[[^\]]*\])*)`")


def load_config(path: Path) -> Config:
    """Read ``path`` into a :class:`Config`; a missing file gives the defaults.

    Raises:
        ConfigError: the file is not valid YAML or not a mapping (the message names the file
            and line).
        ConfigErrors: keys or values are wrong (unknown key, wrong type, out of range, not a
            URL, ...): every problem, each naming the file, line and key
            (:mod:`traceforge_shared.configcheck`).
    """
    if not path.exists():
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        line: int | None = exc.object.count(b"\n", 0, exc.start) + 1
        raise ConfigError(path, f"not UTF-8 text: {exc.reason}", line=line) from exc
    # ruamel is imported here, not at the top: `traceforge trace list` never reads YAML.
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = round_trip_loader()  # at most MAX_DEPTH levels deep
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(path, f"invalid YAML: {exc.problem}", line=line) from exc
    except YAMLError as exc:  # e.g. ReaderError: a control character; it has no problem_mark
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        reason = getattr(exc, "reason", None) or str(exc)
        raise ConfigError(path, f"invalid YAML: {reason}", line=line) from exc
    if doc is None:
        return Config()
    if not isinstance(doc, dict):
        raise ConfigError(path, "the top level must be a mapping (proxy:, upstreams:, storage:)")
    try:
        plain = to_plain(doc)
    except YamlProblem as exc:
        raise ConfigError(path, exc.reason) from exc
    from traceforge_shared.configcheck import check_document

    problems = check_document(Config, plain, path=path, doc=doc, error=ConfigError)
    if problems:
        raise ConfigErrors(problems)
    try:
        return msgspec.convert(plain, Config)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _PATH_RE.search(message)
        parts: list[str | int] = []
        if match:
            parts = split_path(match.group(1))
            # msgspec writes "<reason> - at `$.path`": keep only the reason.
            message = re.sub(r"\s*-\s*at\s*$", "", message[: match.start()])
        if message.startswith("Object contains unknown field"):
            # msgspec names the unknown key in the message, and the path (absent at the top
            # level) is its parent.
            unknown = re.search(r"`([^`]+)`", message)
            if unknown:
                parts = [*parts, unknown.group(1)]
                message = "unknown field"
        field = ".".join(str(p) for p in parts) or None
        line = line_of(doc, parts) if parts else None
        raise ConfigError(path, message, line=line, field=field) from exc
