"""pytest plugin: record an app's LLM calls once, replay them in CI with no network.

Loaded by the ``pytest11`` entry point of ``traceforge-proxy``; inert unless a test asks for
the :func:`traceforge_proxy` fixture. The fixture starts a TraceForge proxy in-process on a
free loopback port, in the chosen mode, for the test's cassette, and points the providers'
SDKs at it for the test (environment variables, monkeypatched):

- ``OPENAI_BASE_URL``: ``http://127.0.0.1:<port>/v1`` (openai SDK)
- ``ANTHROPIC_BASE_URL``: ``.../anthropic`` (anthropic SDK)
- ``GOOGLE_GEMINI_BASE_URL``: ``.../gemini`` (google-genai >= 1.0 reads it for its default
  ``http_options.base_url``; also :attr:`TraceforgeProxy.gemini_base_url`)
- ``OLLAMA_HOST``: ``.../ollama`` (ollama-python)
- ``CO_API_URL``: ``.../cohere`` (cohere SDK)

and, when unset, placeholder keys (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``,
``GEMINI_API_KEY``, ``CO_API_KEY``) so SDKs construct in CI without secrets (a placeholder is
only ever sent to the embedded mock upstream or to nobody).

Options (command line, or ``traceforge_*`` ini settings): ``--traceforge-mode
record|replay|auto`` (default ``replay``), ``--traceforge-cassette-dir DIR`` (default:
``cassettes`` beside each test file), ``--traceforge-timing recorded|fast|scale:X`` (default
``recorded``), ``--traceforge-strict`` (a recording the test did not use fails it).

Per test: ``@pytest.mark.traceforge(cassette="name", mode=..., timing=...,
ignore_fields=[...])``; the default cassette is ``<test module>/<test name>``.

- ``replay``: every call is answered from the cassette; the network is blocked for the test
  (a socket guard refuses any connection that is not to a loopback address, and the proxy
  has no upstream). A request no recording matches fails the test with the proxy's
  explanation (nearest recording, the fields that differ), even when the app swallowed the
  400. Recordings left unused are listed in the terminal summary and written to the
  cassette's ``.last-replay.json`` (``traceforge cassette prune``).
- ``record``: the cassette is re-recorded from scratch (its old interaction files are
  removed first); the drift from the old recordings (identical, benign, regression:
  :mod:`traceforge_shared.cassettes.drift`) is listed in the terminal summary.
- ``auto``: replay what is recorded, record what is not.

Calls go to the real providers when their keys are set, else to TraceForge's embedded mock
upstream. Traces of the calls are saved under a temporary directory of the session.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the proxy is imported only by a test that uses the fixture
    from traceforge_proxy.cassette_usage import MissRecord, ReplayTracker, UsageReport
    from traceforge_proxy.modes import CassetteOptions
    from traceforge_proxy.runner import BackgroundProxy
    from traceforge_shared.cassettes import Interaction
    from traceforge_shared.cassettes.drift import DriftReport
    from traceforge_shared.config import Config

PLUGIN_MODES = ("record", "replay", "auto")
MARKER = "traceforge"
_PLACEHOLDER_KEYS = {
    "OPENAI_API_KEY": "sk-traceforge-placeholder",
    "ANTHROPIC_API_KEY": "sk-ant-traceforge-placeholder",
    "GEMINI_API_KEY": "traceforge-placeholder",
    "CO_API_KEY": "traceforge-placeholder",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_STASH_UNUSED = pytest.StashKey[list[str]]()
_STASH_DRIFT = pytest.StashKey[list["DriftReport"]]()
_PROXY = pytest.StashKey["TraceforgeProxy"]()


class NetworkBlockedError(OSError):
    """A connection to a non-loopback address during a replaying test."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--traceforge-*`` options and their ini settings."""
    group = parser.getgroup("traceforge", "TraceForge record/replay (traceforge_proxy fixture)")
    group.addoption(
        "--traceforge-mode",
        choices=PLUGIN_MODES,
        default=None,
        help="record (re-record cassettes), replay (default: no network) or auto "
        "(replay hits, record misses).",
    )
    group.addoption(
        "--traceforge-cassette-dir",
        metavar="DIR",
        default=None,
        help="Directory of cassettes (default: 'cassettes' beside each test file).",
    )
    group.addoption(
        "--traceforge-timing",
        metavar="recorded|fast|scale:X",
        default=None,
        help="Replay pacing (default: recorded).",
    )
    group.addoption(
        "--traceforge-strict",
        action="store_true",
        default=None,
        help="A recording the test did not replay fails it.",
    )
    parser.addini("traceforge_mode", "Default --traceforge-mode.", default="replay")
    parser.addini("traceforge_cassette_dir", "Default --traceforge-cassette-dir.", default="")
    parser.addini("traceforge_timing", "Default --traceforge-timing.", default="recorded")
    parser.addini("traceforge_strict", "Default --traceforge-strict.", type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``traceforge`` marker."""
    config.addinivalue_line(
        "markers",
        "traceforge(cassette=None, mode=None, timing=None, ignore_fields=()): the "
        "traceforge_proxy fixture's cassette and settings for this test",
    )
    config.stash[_STASH_UNUSED] = []
    config.stash[_STASH_DRIFT] = []


class TraceforgeProxy:
    """The running proxy of one test (what the :func:`traceforge_proxy` fixture gives).

    Attributes:
        url: the proxy's root, ``http://127.0.0.1:<port>``.
        openai_base_url: ``<url>/v1``; anthropic_base_url: ``<url>/anthropic``;
            gemini_base_url: ``<url>/gemini``; ollama_host: ``<url>/ollama``;
            cohere_base_url: ``<url>/cohere``.
        cassette: the cassette's name; cassette_path: its directory.
        mode: ``record``, ``replay`` or ``auto``.
        service: the :class:`~traceforge_proxy.runner.ProxyService`.
        tracker: replayed recordings and misses so far.
    """

    def __init__(self, background: BackgroundProxy, tracker: ReplayTracker, mode: str) -> None:
        self.background = background
        self.service = background.service
        self.tracker = tracker
        self.mode = mode
        self.url = background.url.removesuffix("/v1")
        self.openai_base_url = f"{self.url}/v1"
        self.anthropic_base_url = f"{self.url}/anthropic"
        self.gemini_base_url = f"{self.url}/gemini"
        self.ollama_host = f"{self.url}/ollama"
        self.cohere_base_url = f"{self.url}/cohere"
        session = self.service.cassette
        assert session is not None
        self.cassette = session.cassette.name
        self.cassette_path = session.cassette.path

    def interactions(self) -> list[tuple[Path, Interaction]]:
        """The cassette's interactions on disk now, with their files, in recording order.

        Raises:
            traceforge_shared.cassettes.CassetteError: a file cannot be read.
        """
        session = self.service.cassette
        assert session is not None
        return session.cassette.interactions()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until the traces of the calls made so far are saved (misses are noted when
        their trace is saved)."""
        self.background.drain(timeout)

    def misses(self) -> list[MissRecord]:
        """The replay misses so far (after :meth:`drain`), forgetting them."""
        self.drain()
        return self.tracker.take_misses()


def cassette_name(item: pytest.Item) -> str:
    """The default cassette name of a test: ``<module stem>/<test name>`` (class names
    joined with ``.``; characters a cassette name cannot hold become ``_``)."""
    parts = item.nodeid.split("::")
    module = Path(parts[0]).stem
    test = ".".join(parts[1:]) or item.name
    return "/".join(_UNSAFE.sub("_", p).strip("_.") or "test" for p in (module, test))


def _setting(config: pytest.Config, marker: pytest.Mark | None, name: str) -> Any:
    if marker is not None and marker.kwargs.get(name) is not None:
        return marker.kwargs[name]
    value = config.getoption(f"--traceforge-{name.replace('_', '-')}")
    return value if value is not None else config.getini(f"traceforge_{name}")


def _cassette_home(directory: Path, scratch: Path) -> Path:
    """The TraceForge home whose ``cassettes`` is ``directory`` (its parent, or a scratch
    home linking to it when it has another name)."""
    from traceforge_shared.cassettes import CASSETTES_DIRNAME

    if directory.name == CASSETTES_DIRNAME:
        return directory.parent
    home = Path(tempfile.mkdtemp(prefix="home-", dir=scratch))
    directory.mkdir(parents=True, exist_ok=True)
    (home / CASSETTES_DIRNAME).symlink_to(directory.resolve(), target_is_directory=True)
    return home


def _config() -> Config:
    from traceforge_shared.config import config_path, load_config, resolve_home

    config = load_config(config_path(resolve_home()))
    config.proxy.host = "127.0.0.1"
    config.proxy.port = 0
    return config


@pytest.fixture
def traceforge_proxy(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TraceforgeProxy]:
    """A TraceForge proxy recording to or replaying from this test's cassette, with the
    SDKs' environment pointed at it (see the module docstring).

    Raises:
        pytest.UsageError: a bad mode, timing or cassette name (the session stops).
    """
    config = request.config
    marker = request.node.get_closest_marker(MARKER)
    mode = str(_setting(config, marker, "mode"))
    if mode not in PLUGIN_MODES:
        raise pytest.UsageError(f"traceforge: unknown mode {mode!r}: use record, replay or auto")
    from traceforge_proxy.cassette_usage import ReplayTracker, save_usage
    from traceforge_proxy.modes import CassetteOptions, ReplayTiming
    from traceforge_proxy.runner import BackgroundProxy, ProxyService
    from traceforge_proxy.upstream import resolve_upstreams
    from traceforge_shared.cassettes import check_name
    from traceforge_shared.store import TraceStore

    try:
        timing = ReplayTiming.parse(str(_setting(config, marker, "timing")))
        given = marker.kwargs.get("cassette") if marker is not None else None
        name = check_name(str(given)) if given else cassette_name(request.node)
    except ValueError as exc:
        raise pytest.UsageError(f"traceforge: {exc}") from exc
    given_dir = _setting(config, None, "cassette_dir")
    directory = Path(given_dir) if given_dir else Path(request.node.path).parent / "cassettes"
    if given_dir and not directory.is_absolute():
        directory = config.rootpath / directory
    scratch = tmp_path_factory.mktemp("traceforge")
    home = _cassette_home(directory, scratch)
    settings = _config()
    ignore = tuple(marker.kwargs.get("ignore_fields", ())) if marker is not None else ()
    options = CassetteOptions(
        mode=mode,  # type: ignore[arg-type]
        name=name,
        home=home,
        timing=timing,
        on_miss="error",
        ignore_fields=(*settings.replay.ignore_fields, *ignore),
    )
    previous = _clear_for_recording(options) if mode == "record" else []
    upstreams = resolve_upstreams(settings)  # before the environment points at the proxy
    tracker = ReplayTracker()
    service = ProxyService(
        settings,
        upstreams,
        TraceStore(scratch / "home", fsync=False),
        addons=[tracker],
        mock_delay_ms=20.0,
        cassette=options,
    )
    background = BackgroundProxy(service).start()
    proxy = TraceforgeProxy(background, tracker, mode)
    _point_sdks(monkeypatch, proxy)
    if options.offline:
        _block_network(monkeypatch)
    request.node.stash[_PROXY] = proxy
    try:
        yield proxy
    finally:
        monkeypatch.undo()
        background.stop()
        session = service.cassette
        assert session is not None
        report = tracker.report(session)
        save_usage(session, report)
        _after_run(config, request.node, options, report, previous)


def _clear_for_recording(options: CassetteOptions) -> list[tuple[str, Interaction]]:
    """Read the cassette's old interactions (for the drift report), then remove their files
    so the test re-records it from scratch."""
    from traceforge_shared.cassettes import Cassette

    cassette = Cassette(options.name, options.home)
    old = [(f"{cassette.name}/{path.name}", i) for path, i in cassette.interactions()]
    for path in cassette.files():
        path.unlink()
    return old


def _after_run(
    config: pytest.Config,
    item: pytest.Item,
    options: CassetteOptions,
    report: UsageReport,
    previous: list[tuple[str, Interaction]],
) -> None:
    from traceforge_shared.cassettes import Cassette
    from traceforge_shared.cassettes.drift import drift_report

    if previous:
        cassette = Cassette(options.name, options.home)
        new = [(f"{cassette.name}/{path.name}", i) for path, i in cassette.interactions()]
        config.stash[_STASH_DRIFT].append(drift_report(previous, new, options.ignore_fields))
    if report.unused:
        config.stash[_STASH_UNUSED].extend(f"{item.nodeid}: {ref}" for ref in report.unused)
        if config.getoption("--traceforge-strict") or config.getini("traceforge_strict"):
            pytest.fail(
                f"traceforge: {len(report.unused)} recording(s) of cassette "
                f"{report.cassette!r} not replayed: " + ", ".join(report.unused),
                pytrace=False,
            )


def _point_sdks(monkeypatch: pytest.MonkeyPatch, proxy: TraceforgeProxy) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", proxy.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", proxy.anthropic_base_url)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", proxy.gemini_base_url)
    monkeypatch.setenv("OLLAMA_HOST", proxy.ollama_host)
    monkeypatch.setenv("CO_API_URL", proxy.cohere_base_url)
    for name, value in _PLACEHOLDER_KEYS.items():
        if not os.environ.get(name):
            monkeypatch.setenv(name, value)


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like: not the network
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse connections to anything but loopback addresses (``socket.connect`` and
    ``connect_ex``, which every Python HTTP client ends in)."""
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _loopback(address):
            raise NetworkBlockedError(
                f"traceforge replay: network blocked, refused a connection to {address!r}"
            )
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not _loopback(address):
            raise NetworkBlockedError(
                f"traceforge replay: network blocked, refused a connection to {address!r}"
            )
        return connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


def _miss_text(misses: list[MissRecord]) -> str:
    lines = [f"traceforge: {len(misses)} request(s) had no recording:"]
    lines += [f"  {m.endpoint} ({m.model or '-'}): {m.message}" for m in misses]
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a test using the fixture: a replay miss fails it with the proxy's explanation
    (even when the app swallowed the 400, or failed on it in its own way)."""
    __tracebackhide__ = True
    proxy = item.stash.get(_PROXY, None)
    if proxy is None:  # the test does not use the fixture: nothing to do
        return (yield)
    failure: BaseException | None = None
    result = None
    try:
        result = yield
    except BaseException as exc:  # the test failed: a miss may be why
        failure = exc
    interrupted = isinstance(failure, (KeyboardInterrupt, SystemExit))
    misses = [] if interrupted else proxy.misses()
    if misses:
        pytest.fail(_miss_text(misses), pytrace=False)
    if failure is not None:
        raise failure
    return result


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """List recordings no test replayed, and the drift of re-recorded cassettes."""
    unused = config.stash.get(_STASH_UNUSED, [])
    if unused:
        terminalreporter.section("traceforge: unused recordings")
        for line in unused:
            terminalreporter.line(line)
        terminalreporter.line("(traceforge cassette prune removes them)")
    drifts = config.stash.get(_STASH_DRIFT, [])
    entries = [e for report in drifts for e in report.entries]
    if entries:
        terminalreporter.section("traceforge: drift of re-recorded cassettes")
        for entry in entries:
            reasons = "; ".join(entry.reasons)
            terminalreporter.line(
                f"{entry.verdict:<10} {entry.after or entry.before}"
                + (f": {reasons}" if reasons else "")
            )
