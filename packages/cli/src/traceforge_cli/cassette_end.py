"""The end of ``traceforge start --mode record|replay|auto``: what the run did with its
cassette, printed when the proxy stops.

- replay, auto: one line naming the recordings no call replayed (``--strict``: they make the
  command exit 1), and the cassette's ``.last-replay.json`` for ``traceforge cassette prune``.
- record over an existing cassette: the drift of each re-recorded request from its earlier
  recording (identical, benign, regression), as ``traceforge cassette diff`` prints it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.markup import escape

from traceforge_cli.drift_render import print_drift
from traceforge_proxy.cassette_usage import ReplayTracker, save_usage
from traceforge_shared.cassettes import Cassette, Interaction
from traceforge_shared.cassettes.drift import DriftReport, drift_report

if TYPE_CHECKING:
    from rich.console import Console

    from traceforge_proxy.modes import CassetteOptions
    from traceforge_proxy.runner import ProxyService


class CassetteRunEnd:
    """Collects what a cassette run needs for its end report (give :attr:`addons` to the
    ``ProxyService``), then prints it (:meth:`finish`).

    Args:
        options: the run's cassette options (``None``: live, nothing to report).
        home: the home holding the cassette when ``options.home`` is ``None``.
        strict: unused recordings fail the command.

    Raises:
        traceforge_shared.cassettes.CassetteError: record mode: an existing interaction file
            cannot be read.
    """

    def __init__(self, options: CassetteOptions | None, home: object, strict: bool) -> None:
        self.options = options
        self.strict = strict
        self.tracker = ReplayTracker()
        self.previous: list[tuple[str, Interaction]] = []
        if options is not None and options.mode == "record":
            where = options.home if options.home is not None else home
            cassette = Cassette(options.name, where)  # type: ignore[arg-type]
            self.previous = [(f"{cassette.name}/{p.name}", i) for p, i in cassette.interactions()]

    @property
    def addons(self) -> list[object]:
        """The addons to run in the proxy (none for a live run)."""
        return [] if self.options is None else [self.tracker]

    def finish(self, console: Console, service: ProxyService) -> None:
        """Print the run's cassette report (after the service stopped).

        Raises:
            click.ClickException: ``--strict`` and recordings were left unused (exit 1).
        """
        session = service.cassette
        if session is None:
            return
        if session.options.replays:
            report = self.tracker.report(session)
            try:
                save_usage(session, report)
            except OSError as exc:
                console.print(f"[yellow]cannot write the replay usage: {escape(str(exc))}[/]")
            console.print(
                f"cassette {escape(report.cassette)}: {len(report.used)} replayed, "
                f"{len(report.misses)} miss(es), {len(report.unused)} unused"
                + (": " + escape(", ".join(report.unused)) if report.unused else "")
            )
            if report.unused and self.strict:
                raise click.ClickException(
                    f"--strict: {len(report.unused)} recording(s) of cassette "
                    f"{report.cassette!r} not replayed (traceforge cassette prune removes them)"
                )
        elif self.previous:
            seqs = {i.seq for _, i in self.previous}
            name = session.cassette.name
            new = [
                (f"{name}/{p.name}", i)
                for p, i in session.cassette.interactions()
                if i.seq not in seqs
            ]
            if new:
                drift = drift_report(self.previous, new, session.options.ignore_fields)
                # requests this run did not make are not drift
                drift = DriftReport([e for e in drift.entries if e.after is not None])
                console.print(f"drift of the re-recorded requests of cassette {escape(name)}:")
                print_drift("table", drift, console)
