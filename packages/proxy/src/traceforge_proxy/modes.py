"""The proxy's cassette modes: record, replay, or both (``traceforge start --mode``).

- ``record``: every call goes upstream and is also written to the cassette
  (:mod:`traceforge_proxy.cassette_recorder`).
- ``replay``: every call is answered from the cassette (:mod:`traceforge_proxy.replay_source`);
  nothing reaches the network. A request with no recording left answers per ``on_miss``:
  ``error`` (default: a 4xx in the provider's error shape naming the nearest recording and
  what differs; trace status ``replay_miss``), ``record`` (forwarded and recorded), or
  ``passthrough`` (forwarded, not recorded).
- ``auto``: replay on a hit, record on a miss (``replay`` with ``on_miss=record``).

Without a cassette (``mode="live"``) the proxy forwards as always.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from traceforge_shared.cassettes.store import check_name
from traceforge_shared.config import Config

#: How the proxy treats calls: ``live`` (no cassette), ``record``, ``replay``, ``auto``.
ProxyMode = Literal["live", "record", "replay", "auto"]
#: What a replay miss does: answer an error, record the call, or forward it unrecorded.
OnMiss = Literal["error", "record", "passthrough"]

PROXY_MODES: tuple[str, ...] = get_args(ProxyMode)
ON_MISS: tuple[str, ...] = get_args(OnMiss)

#: Response header on a replay miss: the short reason (nearest recording, first difference).
REPLAY_MISS_HEADER = "X-TraceForge-Replay-Miss"
#: Response header on a replayed answer: ``<cassette>/<interaction file>``.
REPLAYED_FROM_HEADER = "X-TraceForge-Replayed-From"
#: Response header on a replayed answer whose recorded body redaction changed: the kinds
#: replaced (``openai_key, aws_access_key``): the bytes are not the upstream's originals.
REPLAY_REDACTED_HEADER = "X-TraceForge-Replay-Redacted"


@dataclass(frozen=True)
class ReplayTiming:
    """How fast a replayed answer is sent (``--timing``).

    Attributes:
        kind: ``recorded`` (the recorded pauses: headers and every read at their recorded
            offset from the request), ``fast`` (no pauses at all) or ``scale`` (recorded
            offsets multiplied by ``factor``).
        factor: ``scale``: the multiplier (``0.5`` twice as fast); 1 otherwise.
    """

    kind: Literal["recorded", "fast", "scale"] = "recorded"
    factor: float = 1.0

    @classmethod
    def parse(cls, text: str) -> ReplayTiming:
        """``recorded``, ``fast`` or ``scale:X`` (X a number >= 0).

        Raises:
            ValueError: anything else (the message says what is accepted).
        """
        value = text.strip().lower()
        if value in ("recorded", "fast"):
            return cls(kind=value)  # type: ignore[arg-type]
        if value.startswith("scale:"):
            try:
                factor = float(value.partition(":")[2])
            except ValueError:
                factor = -1.0
            if factor >= 0 and factor == factor and factor != float("inf"):
                return cls(kind="scale", factor=factor)
        raise ValueError(f"invalid timing {text!r}: use recorded, fast or scale:X (X >= 0)")

    def seconds(self, offset_ms: float) -> float:
        """The replay offset in seconds of something recorded at ``offset_ms`` ms (0 for
        ``fast``)."""
        if self.kind == "fast":
            return 0.0
        return max(offset_ms, 0.0) * self.factor / 1000.0

    def __str__(self) -> str:
        return f"scale:{self.factor:g}" if self.kind == "scale" else self.kind


@dataclass(frozen=True)
class CassetteOptions:
    """The cassette the proxy records to or replays from (``ProxyService(cassette=...)``).

    Attributes:
        mode: ``record``, ``replay`` or ``auto`` (``live`` means no cassette).
        name: the cassette's name: ``<home>/cassettes/<name>/``.
        home: the TraceForge home holding it (``None``: the trace store's home).
        timing: replay pacing.
        on_miss: replay: what a request with no recording left does (``auto`` always
            records).
        ignore_fields: body fields left out of the request key, besides the volatile ones
            (see :mod:`traceforge_shared.cassettes.key`): ``replay.ignore_fields`` of the
            config plus ``--ignore-field``.
    """

    mode: ProxyMode
    name: str
    home: str | os.PathLike[str] | None = None
    timing: ReplayTiming = field(default_factory=ReplayTiming)
    on_miss: OnMiss = "error"
    ignore_fields: tuple[str, ...] = ()

    @property
    def miss_action(self) -> OnMiss:
        """What a miss does in this mode: ``record`` in ``auto`` and ``record`` modes,
        else ``on_miss``."""
        return "record" if self.mode in ("auto", "record") else self.on_miss

    @property
    def replays(self) -> bool:
        """Whether recordings answer calls (``replay`` and ``auto``)."""
        return self.mode in ("replay", "auto")

    @property
    def offline(self) -> bool:
        """Whether the network is off limits: ``replay`` with ``on_miss=error``."""
        return self.mode == "replay" and self.on_miss == "error"


def cassette_options(
    config: Config,
    mode: str,
    name: str | None,
    *,
    timing: str | None = None,
    on_miss: str | None = None,
    ignore_fields: Sequence[str] = (),
    home: str | os.PathLike[str] | None = None,
) -> CassetteOptions | None:
    """The options of ``--mode/--cassette/--timing/--on-miss/--ignore-field`` over the
    config's ``replay:`` section; ``None`` for ``live``.

    Raises:
        ValueError: an unknown mode or miss action, a bad timing, a mode other than ``live``
            without a cassette name, or an invalid name (messages meant for users).
    """
    if mode not in PROXY_MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(PROXY_MODES)}")
    if mode == "live":
        return None
    if not name:
        raise ValueError(f"--mode {mode} needs --cassette NAME")
    check_name(name)  # CassetteError, a ValueError
    action = on_miss or config.replay.on_miss
    if action not in ON_MISS:
        raise ValueError(f"unknown --on-miss {action!r}: use one of {', '.join(ON_MISS)}")
    return CassetteOptions(
        mode=mode,  # type: ignore[arg-type]
        name=name,
        home=home,
        timing=ReplayTiming.parse(timing or config.replay.timing),
        on_miss=action,  # type: ignore[arg-type]
        ignore_fields=(*config.replay.ignore_fields, *ignore_fields),
    )
