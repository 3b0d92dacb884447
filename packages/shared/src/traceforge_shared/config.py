"""TraceForge configuration: ``.ai-tests/config.yaml`` read into a typed :class:`Config`.

The file is optional; every field has a default. Unknown keys are errors (a typo must not be
silently ignored). Errors name the file, the line and the field::

    .ai-tests/config.yaml:4: proxy.port: Expected `int` <= 65535
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

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
        default_provider: provider for OpenAI-format requests whose model matches no
            provider's patterns; ``None`` (default): such requests get a 400 that lists the
            patterns, rather than a guess.
    """

    host: str = "127.0.0.1"
    port: Port = 8787
    connect_timeout_s: PositiveFloat = 10.0
    read_timeout_s: PositiveFloat = 300.0
    max_connections: PositiveInt = 100
    chunk_cap: PositiveInt = 10_000
    default_provider: str | None = None

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

    base_url: str | None = None
    api_key_env: str | None = None
    inject_stream_usage: bool | None = None
    models: list[str] | None = None
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
    """

    max_traces: PositiveInt | None = 10_000
    retention_days: PositiveInt | None = 30
    fsync: bool = False
    unsaved_queue_mb: PositiveInt = 64


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


def _default_upstreams() -> dict[str, UpstreamConfig]:
    return {"openai": UpstreamConfig()}


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole ``config.yaml``. See :data:`DEFAULT_CONFIG_YAML` for a commented example."""

    proxy: ProxyConfig = msgspec.field(default_factory=ProxyConfig)
    upstreams: dict[str, UpstreamConfig] = msgspec.field(default_factory=_default_upstreams)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    redaction: RedactionConfig = msgspec.field(default_factory=RedactionConfig)
    api: ApiConfig = msgspec.field(default_factory=ApiConfig)

    def __post_init__(self) -> None:
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
  # default_provider: openai  # for models no pattern matches (default: answer 400)
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
        ConfigError: the file is not valid YAML, not a mapping, or a field has a wrong type,
            value or name. The message names the file, line and field.
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
