"""No Python traceback for any bad input: a matrix of ``traceforge`` invocations.

Each case sets up a TraceForge home (corrupt trace files, a corrupt index, stray entries in
``traces/``, a bad ``config.yaml`` or test file, a read-only or full home, a missing home or
one that is a file), runs one command line through click's ``CliRunner`` and checks:

- no exception escaped (what would be a traceback in a terminal), no ``Traceback`` printed;
- the exit status: 1 for a runtime problem, 2 for a command line click rejects (or an invalid
  test file, as ``test run`` reports it), 0 where the input is fine after all;
- a failure says what is wrong in ONE line: ``traceforge: <what> (<path>)`` for runtime
  problems, click's ``Error: ...`` line for usage errors; the line names the problem.

A few cases run the real ``traceforge`` console script in a subprocess (what ``CliRunner``
hides: interpreter start-up, the entry point, real stderr), with a home below a regular file
so every directory creation fails with ``ENOTDIR``.

Read-only and full disks cannot be simulated with ``chmod`` (the tests may run as root), so
:func:`_unwritable` makes the low-level writes below the home raise ``OSError`` (``EROFS`` or
``ENOSPC``) in this process: ``os.open`` for writing, ``open``/``io.open`` in a write mode,
``os.mkdir``, ``os.replace``, ``os.rename``, ``os.unlink``, and ``sqlite3.connect`` (which
fails as SQLite does on such a disk: ``attempt to write a readonly database`` / ``database or
disk is full``).
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner, Result

from traceforge_cli.main import cli
from traceforge_shared.store import TraceStore
from traceforge_shared.testing import make_trace
from traceforge_shared.trace import Trace

#: Ids planted by :func:`_store`: two share the prefix ``aaaa`` (ambiguous), one is unique.
GOOD_ID = "c0ffee00000000000000aa01"
TWIN_IDS = ("aaaa00000000000000000001", "aaaa00000000000000000002")
#: A trace whose request is not a chat completion (``test create-from-trace`` refuses it).
ODD_ID = "b0b0b0b0000000000000000b"
#: The id of the planted corrupt trace file (content chosen per case).
BAD_ID = "dead00000000000000000bad"
MISSING_ID = "ffffffffffffffffffffffff"

Setup = Callable[[Path], None]


def _nothing(home: Path) -> None:
    pass


def _save(home: Path, *traces: Trace) -> None:
    store = TraceStore(home, fsync=False)
    store.save_many(traces)
    store.index.close()


def _store(home: Path) -> None:
    """Four traces: ``GOOD_ID``, the two ``TWIN_IDS`` and ``ODD_ID`` (an embeddings call: no
    chat messages, even in its chat completion view)."""
    base = make_trace(text="the answer")
    odd = msgspec.structs.replace(
        base,
        id=ODD_ID,
        endpoint="/v1/embeddings",
        request={"model": "text-embedding-3-small", "input": "hi"},
    )
    _save(
        home,
        msgspec.structs.replace(base, id=GOOD_ID),
        *(msgspec.structs.replace(base, id=i) for i in TWIN_IDS),
        odd,
    )


def _bad_trace(content: bytes) -> Setup:
    """A store, plus ``traces/BAD_ID.json`` holding ``content``."""

    def setup(home: Path) -> None:
        _store(home)
        (home / "traces" / f"{BAD_ID}.json").write_bytes(content)

    return setup


def _stray(name: str, *, directory: bool = False, content: bytes = b"") -> Setup:
    """A store, plus a stray file or directory ``traces/<name>``."""

    def setup(home: Path) -> None:
        _store(home)
        path = home / "traces" / name
        if directory:
            path.mkdir()
            (path / "inside.json").write_bytes(b"{}")
        else:
            path.write_bytes(content)

    return setup


def _symlink_loop(home: Path) -> None:
    _store(home)
    link = home / "traces" / "abcdef.json"
    link.symlink_to(link)


def _traces_is_a_file(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "traces").write_bytes(b"not a directory")


def _index(content: bytes | None, *, directory: bool = False) -> Setup:
    """A store whose ``index.sqlite`` is replaced by ``content`` (``None``: truncated to half
    its size) or by a directory."""

    def setup(home: Path) -> None:
        _store(home)
        index = home / "index.sqlite"
        for extra in home.glob("index.sqlite-*"):  # WAL and shared memory
            extra.unlink()
        if directory:
            index.unlink()
            index.mkdir()
            return
        data = index.read_bytes()
        index.write_bytes(data[: len(data) // 2] if content is None else content)

    return setup


def _foreign_index(home: Path) -> None:
    """A store whose index is a valid SQLite database of another program."""
    _store(home)
    index = home / "index.sqlite"
    for extra in [index, *home.glob("index.sqlite-*")]:
        extra.unlink()
    conn = sqlite3.connect(index)
    conn.execute("CREATE TABLE traces (x TEXT)")
    conn.execute("CREATE TABLE meta (y TEXT)")
    conn.commit()
    conn.close()


def _config(content: bytes) -> Setup:
    """A store, a valid test file and ``config.yaml`` holding ``content``."""

    def setup(home: Path) -> None:
        _store(home)
        (home / "tests").mkdir()
        (home / "tests" / "ok.yaml").write_bytes(VALID_TEST)
        (home / "config.yaml").write_bytes(content)

    return setup


def _config_dir(home: Path) -> None:
    _config(b"")(home)
    (home / "config.yaml").unlink()
    (home / "config.yaml").mkdir()


def _test_file(content: bytes, name: str = "bad.yaml") -> Setup:
    def setup(home: Path) -> None:
        (home / "tests").mkdir(parents=True)
        (home / "tests" / name).write_bytes(content)

    return setup


def _home_is_a_file(home: Path) -> None:
    home.parent.mkdir(parents=True, exist_ok=True)
    home.write_bytes(b"a file where the home should be")


#: A YAML "billion laughs": 9 levels of 9 aliases (9**9 nodes if expanded).
ALIAS_BOMB = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n".encode()
    for i in range(8)
)
DEEP_JSON = b'{"schema_version": 1, "request": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
DEEP_YAML = b"a: " + b"[" * 400 + b"]" * 400 + b"\n"
VALID_TEST = (
    b"name: ok\nrequest:\n  model: gpt-4o\n  messages: [{role: user, content: hi}]\n"
    b"assertions:\n  - {type: icontains, value: hi}\n"
)


@dataclass(frozen=True)
class Case:
    """One invocation: its id, command line, home set-up and what must come out.

    Attributes:
        codes: the acceptable exit statuses (first: the expected one; a second, 0, where a
            fix elsewhere may make the input work instead of fail cleanly).
        says: words the one-line message must contain (case-insensitive), each an
            alternative set separated by ``|``.
        report: the command reports the problem in its own output (``test run``'s table),
            not as a one-line error: only the words are checked, anywhere in the output.
        unwritable: ``errno.EROFS`` or ``errno.ENOSPC``: writes below the home fail so.
    """

    id: str
    args: tuple[str, ...]
    setup: Setup = _nothing
    codes: tuple[int, ...] = (1,)
    says: tuple[str, ...] = ()
    report: bool = False
    unwritable: int | None = None


def _id_cases() -> Iterator[Case]:
    """Bad, unknown and ambiguous ids and corrupt trace files, for every command taking an
    id."""
    commands = {
        "show": ("trace", "show"),
        "show-json": ("trace", "show", "--json"),
        "create": ("test", "create-from-trace", "--out", "-"),
    }
    ids: list[tuple[str, str, Setup, tuple[int, ...], tuple[str, ...]]] = [
        ("unknown-id", MISSING_ID, _store, (1,), ("no trace", MISSING_ID)),
        ("unknown-prefix", "fff", _store, (1,), ("no trace", "fff")),
        ("ambiguous-prefix", "aaaa", _store, (1,), ("ambiguous", "aaaa")),
        ("not-hex", "xyz", _store, (1,), ("not a trace id",)),
        ("path-traversal", "../../etc/passwd", _store, (1,), ("not a trace id",)),
        ("empty-id", "", _store, (1,), ("not a trace id",)),
        ("huge-id", "a" * 5000, _store, (1,), ("not a trace id",)),
        (
            "unicode-id",
            "\uff46\uff46",  # fullwidth "ff"
            _store,
            (1,),
            ("not a trace id",),
        ),
        ("nul-in-id", "ab\x00cd", _store, (1,), ("not a trace id",)),
        ("empty-store", "abc", _nothing, (1,), ("no trace",)),
        ("garbage-file", BAD_ID, _bad_trace(b"\x00\xffgarbage"), (1,), ("not valid json",)),
        ("truncated-json", BAD_ID, _bad_trace(b'{"schema_version": 1, "id": "de'), (1,), ("json",)),
        ("empty-file", BAD_ID, _bad_trace(b""), (1,), (BAD_ID,)),
        ("future-schema", BAD_ID, _bad_trace(b'{"schema_version": 999}'), (1,), ("999|schema",)),
        ("string-schema", BAD_ID, _bad_trace(b'{"schema_version": "one"}'), (1,), (BAD_ID,)),
        ("json-array", BAD_ID, _bad_trace(b"[1, 2, 3]"), (1,), (BAD_ID,)),
        ("json-null", BAD_ID, _bad_trace(b"null"), (1,), (BAD_ID,)),
        ("json-string", BAD_ID, _bad_trace(b'"a trace"'), (1,), (BAD_ID,)),
        (
            "wrong-shape",
            BAD_ID,
            _bad_trace(b'{"schema_version": 1, "id": 5, "chunks": "many"}'),
            (1,),
            ("not a valid trace",),
        ),
        ("deep-json", BAD_ID, _bad_trace(DEEP_JSON), (1,), (BAD_ID,)),
        ("stray-dir-as-trace", "abcd", _stray("abcd.json", directory=True), (1,), ("abcd",)),
        ("symlink-loop", "abcdef", _symlink_loop, (1,), ("abcdef",)),
    ]
    for command, args in commands.items():
        for name, trace_id, setup, codes, says in ids:
            yield Case(f"{command}-{name}", (*args, trace_id), setup, codes, says)
    yield Case(
        "create-not-a-chat-trace",
        ("test", "create-from-trace", ODD_ID),
        _store,
        (1,),
        ("chat completion", ODD_ID[:8]),
    )
    yield Case(
        "create-bad-name",
        ("test", "create-from-trace", GOOD_ID, "--name", "../../../etc/evil"),
        _store,
        (1, 0),
        ("name|test",),
    )
    yield Case(
        "create-out-under-a-file",
        ("test", "create-from-trace", GOOD_ID, "--out", "{file}/x.yaml"),
        _store,
        (1,),
        ("directory", "{file}"),
    )


def _store_cases() -> Iterator[Case]:
    """Corrupt indexes and stray entries in ``traces/``, for every command reading the store.

    A corrupt index may be fixed by the store (moved aside and rebuilt) or reported: either
    way no traceback, so 0 is accepted besides 1.
    """
    readers = {
        "list": ("trace", "list"),
        "list-json": ("trace", "list", "--json"),
        "show-prefix": ("trace", "show", GOOD_ID[:6]),
        "create-prefix": ("test", "create-from-trace", GOOD_ID[:6], "--out", "-"),
    }
    setups: list[tuple[str, Setup, tuple[str, ...]]] = [
        ("index-garbage", _index(b"this is not a database" * 100), ("index",)),
        ("index-truncated", _index(None), ("index",)),
        ("index-directory", _index(None, directory=True), ("index",)),
        ("index-foreign", _foreign_index, ("index",)),
        ("stray-dir", _stray("abcd.json", directory=True), ("abcd",)),
        ("stray-symlink-loop", _symlink_loop, ("abcdef",)),
        ("traces-is-a-file", _traces_is_a_file, ("traces",)),
    ]
    for reader, args in readers.items():
        for name, setup, says in setups:
            codes = (1,) if name == "traces-is-a-file" and "prefix" in reader else (1, 0)
            yield Case(f"{reader}-{name}", args, setup, codes, says)
    yield Case("list-deep-json", ("trace", "list"), _bad_trace(DEEP_JSON), (0,))
    for name, content in (
        ("stray-text", b"notes"),
        ("stray-garbage-json", b"\xff\xfe"),
        ("stray-hidden-tmp", b'{"partial'),
    ):
        file = {"stray-text": "notes.txt", "stray-hidden-tmp": ".abc.1234.tmp"}.get(
            name, "abc123.json"
        )
        yield Case(f"list-{name}", ("trace", "list"), _stray(file, content=content), (0,))


def _config_cases() -> Iterator[Case]:
    """A bad ``config.yaml``, for every command that reads it (and fails before serving)."""
    configs: list[tuple[str, Setup, tuple[str, ...]]] = [
        ("bad-yaml", _config(b"proxy: [\n  port: 1\n"), ("config.yaml", "yaml")),
        ("unknown-key", _config(b"bogus: 1\n"), ("config.yaml", "bogus|unknown")),
        ("wrong-type", _config(b"proxy:\n  port: lots\n"), ("config.yaml", "proxy.port")),
        ("top-level-list", _config(b"- a\n- b\n"), ("config.yaml", "mapping")),
        ("alias-bomb", _config(ALIAS_BOMB), ("config.yaml", "alias")),
        ("not-utf8", _config(b"proxy:\n  host: \xff\xfe\n"), ("config.yaml", "utf-8")),
        ("deep-nesting", _config(DEEP_YAML), ("config.yaml",)),
        ("is-a-directory", _config_dir, ("config.yaml",)),
    ]
    commands = {
        "redact": ("redact", "check"),
        "test-run": ("test", "run", "--replay"),
    }
    for command, args in commands.items():
        for name, setup, says in configs:
            yield Case(f"{command}-config-{name}", args, setup, (1,), says)
    for name, setup, says in configs[:3]:  # start and demo refuse it before serving
        yield Case(f"start-config-{name}", ("start", "--no-api", "--port", "0"), setup, (1,), says)
        yield Case(f"demo-config-{name}", ("demo",), setup, (1,), says)


def _test_file_cases() -> Iterator[Case]:
    """Invalid test files: ``test run`` reports each in its results (exit 2)."""
    files: list[tuple[str, bytes, str]] = [
        ("bad-yaml", b"name: [\n", "bad.yaml"),
        ("no-request", b"name: x\nassertions: []\n", "request"),
        ("unknown-assertion", VALID_TEST.replace(b"icontains", b"telepathy"), "telepathy"),
        (
            "bad-regex",
            VALID_TEST.replace(b"icontains, value: hi", b"regex, pattern: '(('"),
            "regex|regular expression",
        ),
        ("alias-bomb", ALIAS_BOMB, "bad.yaml"),
        ("not-utf8", b"name: \xff\n", "bad.yaml"),
        ("top-level-list", b"- 1\n", "bad.yaml"),
        ("deep-nesting", DEEP_YAML, "bad.yaml"),
    ]
    for name, content, says in files:
        yield Case(
            f"test-run-{name}",
            ("test", "run", "--replay"),
            _test_file(content),
            (2,),
            ("invalid test file", says),
            report=True,
        )


def _home_cases() -> Iterator[Case]:
    """A missing home, a home that is a file, a read-only or full home."""
    yield Case("list-missing-home", ("trace", "list"), codes=(0,))
    yield Case("redact-missing-home", ("redact", "check"), codes=(0,))
    yield Case("run-missing-home", ("test", "run"), codes=(2,), says=("no tests", "create-from"))
    yield Case("show-missing-home", ("trace", "show", "abc"), codes=(1,), says=("no trace",))
    for name, args in {
        "list": ("trace", "list"),
        "show": ("trace", "show", "abc"),
        "create": ("test", "create-from-trace", "abc"),
        "run": ("test", "run", "--replay"),
        "init": ("init",),
    }.items():
        yield Case(
            f"{name}-home-is-a-file",
            args,
            _home_is_a_file,
            (2,) if name == "run" else (1,),
            ("not a directory|is a file|exists|tests",),
        )
    writers = {
        "list": (("trace", "list"), _nothing, ("home|index",)),
        "init": (("init",), _nothing, ("config.yaml|tests|.gitignore",)),
        "create": (("test", "create-from-trace", GOOD_ID), _store, ("tests|index",)),
        "run": (("test", "run", "--replay"), _test_file(VALID_TEST), ("results|index",)),
        "show": (("trace", "show", GOOD_ID[:6]), _store, ("index",)),
    }
    for fault, name in ((errno.EROFS, "read-only"), (errno.ENOSPC, "disk-full")):
        word = "read-only" if fault == errno.EROFS else "full|space"
        for command, (args, setup, says) in writers.items():
            yield Case(
                f"{command}-{name}",
                args,
                setup,
                (1,),
                (word, *says),
                unwritable=fault,
            )


def _option_cases(tmp: str = "{dir}") -> Iterator[Case]:
    """Bad option values and unknown commands: click's usage errors (exit 2)."""
    usage: list[tuple[str, tuple[str, ...], str]] = [
        ("since-words", ("trace", "list", "--since", "yesterday-ish"), "--since"),
        ("since-bad-date", ("trace", "list", "--since", "2026-13-45"), "--since"),
        ("limit-negative", ("trace", "list", "--limit", "-3"), "--limit"),
        ("limit-zero", ("trace", "list", "-n", "0"), "--limit"),
        ("limit-word", ("trace", "list", "--limit", "many"), "--limit"),
        ("status-unknown", ("trace", "list", "--status", "nope"), "--status"),
        ("format-unknown", ("trace", "list", "--format", "nope"), "--format"),
        ("chunks-negative", ("trace", "show", "abc", "--chunks", "-1"), "--chunks"),
        ("show-no-id", ("trace", "show"), "id"),
        ("create-no-id", ("test", "create-from-trace"), "trace_id"),
        ("create-out-dir", ("test", "create-from-trace", "abc", "--out", tmp), tmp),
        ("run-concurrency-zero", ("test", "run", "-j", "0"), "--concurrency"),
        ("run-concurrency-huge", ("test", "run", "--concurrency", "100000"), "--concurrency"),
        ("run-timeout-zero", ("test", "run", "--timeout", "0"), "--timeout"),
        ("run-timeout-word", ("test", "run", "--timeout", "soon"), "--timeout"),
        ("run-direct-replay", ("test", "run", "--direct", "--replay"), "exclude"),
        ("run-missing-path", ("test", "run", "/nonexistent/tests"), "/nonexistent/tests"),
        ("run-junit-dir", ("test", "run", "--junit", tmp), tmp),
        ("redact-missing-path", ("redact", "check", "/nonexistent/file"), "/nonexistent/file"),
        ("start-port-huge", ("start", "--port", "70000"), "--port"),
        ("start-port-word", ("start", "--port", "http"), "--port"),
        ("start-api-port-negative", ("start", "--api-port", "-1"), "--api-port"),
        ("start-delay-negative", ("start", "--mock-delay-ms", "-5"), "--mock-delay-ms"),
        ("demo-port-negative", ("demo", "--port", "-1"), "--port"),
        ("demo-delay-word", ("demo", "--delay-ms", "slow"), "--delay-ms"),
        ("ui-port-zero", ("ui", "--port", "0"), "--port"),
        ("unknown-command", ("nope",), "nope"),
        ("unknown-subcommand", ("trace", "nope"), "nope"),
        ("unknown-option", ("--nope",), "--nope"),
        ("home-is-a-file-option", ("--home", "{file}", "trace", "list"), "{file}"),
        ("test-unknown-subcommand", ("test", "frobnicate"), "frobnicate"),
        ("redact-unknown-subcommand", ("redact", "scrub"), "scrub"),
    ]
    for name, args, says in usage:
        yield Case(name, args, codes=(2,), says=(says,))


def _no_argument_cases() -> Iterator[Case]:
    """Every command group with no arguments: its help (click exits 2: nothing to run)."""
    for group in ((), ("trace",), ("test",), ("redact",)):
        name = "no-args-" + ("-".join(group) or "root")
        yield Case(name, group, codes=(2, 0), says=("usage:", "commands:"), report=True)


CASES = [
    *_id_cases(),
    *_store_cases(),
    *_config_cases(),
    *_test_file_cases(),
    *_home_cases(),
    *_option_cases(),
    *_no_argument_cases(),
]


def test_the_matrix_is_big_enough() -> None:
    assert len(CASES) >= 100
    assert len({case.id for case in CASES}) == len(CASES)


# -- simulated read-only and full disks ----------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _unwritable(monkeypatch: pytest.MonkeyPatch, root: Path, fault: int) -> None:
    """Make every write below ``root`` fail with ``OSError(fault)`` in this process."""
    top = str(root.resolve()) if root.exists() else os.path.abspath(root)
    message = os.strerror(fault)

    def below(path: Any) -> bool:
        try:
            text = os.path.abspath(os.fsdecode(path))
        except TypeError:  # a file descriptor
            return False
        return text == top or text.startswith(top + os.sep)

    def refuse(path: Any) -> None:
        raise OSError(fault, message, os.fsdecode(path))

    real_open, real_io_open = os.open, io.open
    real_mkdir, real_replace, real_rename, real_unlink = os.mkdir, os.replace, os.rename, os.unlink
    real_connect = sqlite3.connect

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS and below(path):
            refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def io_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+") and below(path):
            refuse(path)
        return real_io_open(path, mode, *args, **kwargs)

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if below(path):
            refuse(path)
        real_mkdir(path, *args, **kwargs)

    def two(real: Callable[..., None]) -> Callable[..., None]:
        def move(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if below(src) or below(dst):
                refuse(dst)
            real(src, dst, *args, **kwargs)

        return move

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if below(path):
            refuse(path)
        real_unlink(path, *args, **kwargs)

    def connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if below(database):
            raise sqlite3.OperationalError(
                "attempt to write a readonly database"
                if fault == errno.EROFS
                else "database or disk is full"
            )
        connection: sqlite3.Connection = real_connect(database, *args, **kwargs)
        return connection

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr(builtins, "open", io_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "replace", two(real_replace))
    monkeypatch.setattr(os, "rename", two(real_rename))
    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(sqlite3, "connect", connect)


# -- checks --------------------------------------------------------------------------------


def _matches(line: str, says: tuple[str, ...]) -> bool:
    low = line.lower()
    return all(any(word.lower() in low for word in alt.split("|")) for alt in says)


def _check(case: Case, code: int, stdout: str, stderr: str) -> None:
    everything = stdout + stderr
    assert "Traceback" not in everything, everything
    assert code in case.codes, f"exit {code}, expected {case.codes}\n{everything}"
    if code == 0:
        assert "traceforge: " not in stderr and "Error: " not in stderr, stderr
        return
    if case.report:
        assert _matches(" ".join(everything.split()), case.says), everything
        return
    prefix = "Error: " if code == 2 and not stderr.startswith("traceforge: ") else "traceforge: "
    lines = [line for line in stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, f"not one {prefix!r} line:\n{stderr}"
    assert _matches(lines[0], case.says), f"{case.says} not in {lines[0]!r}"
    if prefix == "traceforge: ":  # a runtime error is that one line and nothing else
        assert stderr.strip() == lines[0], stderr


def _invoke(args: tuple[str, ...]) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def _placed(case: Case, tmp_path: Path) -> Case:
    """``case`` with ``{file}`` (a regular file) and ``{dir}`` (a directory) filled in."""
    places = {"{file}": tmp_path / "a-file", "{dir}": tmp_path / "a-dir"}
    places["{file}"].write_text("a regular file")
    places["{dir}"].mkdir()

    def fill(text: str) -> str:
        for key, path in places.items():
            text = text.replace(key, str(path))
        return text

    return replace(case, args=tuple(map(fill, case.args)), says=tuple(map(fill, case.says)))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEFORGE_DEBUG", raising=False)
    case = _placed(case, tmp_path)
    case.setup(home)
    if case.unwritable is not None:
        _unwritable(monkeypatch, home, case.unwritable)
    result = _invoke(case.args)
    escaped = result.exception
    # An exception CliRunner caught is what a terminal would show as a traceback.
    assert escaped is None or isinstance(escaped, SystemExit), repr(escaped)
    _check(case, result.exit_code, result.stdout, result.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("-h",),
        ("trace", "--help"),
        ("trace", "list", "--help"),
        ("trace", "show", "--help"),
        ("test", "--help"),
        ("test", "create-from-trace", "--help"),
        ("test", "run", "--help"),
        ("test", "schema", "--help"),
        ("redact", "--help"),
        ("redact", "check", "--help"),
        ("init", "--help"),
        ("start", "--help"),
        ("demo", "--help"),
        ("ui", "--help"),
    ],
    ids=lambda args: "-".join(a.strip("-") for a in args),
)
def test_help_of_every_command(args: tuple[str, ...]) -> None:
    result = _invoke(args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ") and "Traceback" not in result.output


# -- the guard itself ----------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_with_a_hint(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise TypeError("a bug\nover two lines")

    monkeypatch.delenv("TRACEFORGE_DEBUG", raising=False)
    monkeypatch.setattr(TraceStore, "list", broken)
    result = _invoke(("trace", "list"))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stderr == (
        "traceforge: internal error (TypeError: a bug over two lines); "
        "run with TRACEFORGE_DEBUG=1 for the traceback\n"
    )


def test_traceforge_debug_shows_the_traceback(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise TypeError("a bug")

    monkeypatch.setenv("TRACEFORGE_DEBUG", "1")
    monkeypatch.setattr(TraceStore, "list", broken)
    result = _invoke(("trace", "list"))
    assert isinstance(result.exception, TypeError)  # propagates: the terminal shows it


def test_ctrl_c_is_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(TraceStore, "list", interrupted)
    result = _invoke(("trace", "list"))
    assert result.exit_code == 1
    assert result.stderr == "traceforge: interrupted (Ctrl-C)\n"


# -- the real console script ---------------------------------------------------------------


def _script() -> list[str]:
    found = shutil.which("traceforge", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "traceforge_cli.main"]


SUBPROCESS_CASES = [
    Case("sub-list-home-under-a-file", ("trace", "list"), says=("not a directory",)),
    Case("sub-show-home-under-a-file", ("trace", "show", "abc"), says=("not a directory",)),
    Case("sub-init-home-under-a-file", ("init",), says=("not a directory",)),
    Case(
        "sub-create-home-under-a-file",
        ("test", "create-from-trace", "abc"),
        says=("not a directory",),
    ),
    Case(
        "sub-start-home-under-a-file",
        ("start", "--no-api", "--port", "0"),
        says=("not a directory",),
    ),
    Case("sub-limit-negative", ("trace", "list", "--limit", "-3"), codes=(2,), says=("--limit",)),
    Case(
        "sub-create-garbage-trace",
        ("test", "create-from-trace", BAD_ID),
        _bad_trace(b"\x00garbage"),
        says=(BAD_ID, "json"),
    ),
    Case(
        "sub-list-garbage-index",
        ("trace", "list"),
        _index(b"garbage" * 1000),
        codes=(1, 0),
        says=("index",),
    ),
]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=[case.id for case in SUBPROCESS_CASES])
def test_bad_input_in_a_real_process(case: Case, home: Path, tmp_path: Path) -> None:
    if case.id.endswith("home-under-a-file"):
        blocker = tmp_path / "blocker"
        blocker.write_text("a regular file")
        home = blocker / "home"  # mkdir fails with ENOTDIR
    else:
        case.setup(home)
    env = {k: v for k, v in os.environ.items() if k != "TRACEFORGE_DEBUG"}
    env.update(TRACEFORGE_HOME=str(home), COLUMNS="120")
    result = subprocess.run(
        [*_script(), *case.args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # `start` must fail, not serve: a hang fails the test here
        check=False,
    )
    _check(case, result.returncode, result.stdout, result.stderr)
