"""``examples/otel-collector/config.yaml`` checked against the Collector components' own
configuration keys, as ``otelcol-contrib validate`` would (no Collector binary can be installed
here: data/otelcol/README.md).

The keys come from the components' Go config structs and generated schemas
(``data/otelcol/component_keys.yaml``, each source cited with its commit). The check: every
component's type is known, every key exists where it is written, values have the struct
field's type (durations in Go's syntax), the components' ``Validate()`` rules hold (an
``otlp`` exporter endpoint with a port, an ``otlphttp`` exporter with an endpoint, a
``clickhouse`` endpoint, a ``debug`` verbosity the exporter supports) and every pipeline names
defined receivers, processors and exporters of its signal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "otel-collector" / "config.yaml"
KEYS = Path(__file__).parent / "data" / "otelcol" / "component_keys.yaml"

#: Go ``time.Duration`` text (https://pkg.go.dev/time#ParseDuration).
_DURATION = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$")
_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "bool": (bool,),
    "int": (int,),
    "number": (int, float),
}
_SECTIONS = ("receivers", "processors", "exporters")
_yaml = YAML(typ="safe", pure=True)


def _load_keys() -> dict[str, Any]:
    data: dict[str, Any] = _yaml.load(KEYS.read_text())
    return data


def _spec(spec: Any, defs: dict[str, Any]) -> Any:
    """``spec`` with ``$def`` references and ``$squash`` lists resolved."""
    if isinstance(spec, str) and spec.startswith("$"):
        return _spec(defs[spec[1:]], defs)
    if isinstance(spec, dict):
        merged: dict[str, Any] = {}
        for name in spec.get("$squash", []):
            merged.update(_spec(defs[name], defs))
        merged.update({k: v for k, v in spec.items() if k != "$squash"})
        return merged
    return spec


def _check(value: Any, spec: Any, defs: dict[str, Any], where: str) -> list[str]:
    spec = _spec(spec, defs)
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping, got {value!r}"]
        problems = []
        for key, item in value.items():
            if key not in spec:
                problems.append(f"{where}.{key}: unknown key")
            else:
                problems += _check(item, spec[key], defs, f"{where}.{key}")
        return problems
    if spec == "duration":
        ok = isinstance(value, str) and bool(_DURATION.match(value))
    elif spec == "strings":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif spec == "string_map":
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    else:
        kinds = _SCALARS[spec]
        ok = isinstance(value, kinds) and not (spec != "bool" and isinstance(value, bool))
    return [] if ok else [f"{where}: {value!r} is not a {spec}"]


def _validate_rules(section: str, kind: str, name: str, config: dict[str, Any]) -> list[str]:
    """The components' own ``Validate()`` rules (sources in data/otelcol/README.md)."""
    where = f"{section}.{name}"
    if section != "exporters":
        return []
    if kind == "otlp":
        endpoint = re.sub(r"^(https?://|dns:///?)", "", str(config.get("endpoint", "")))
        host, _, port = endpoint.rpartition(":")
        if not host or not port.isdigit():
            return [f"{where}.endpoint: needs host:port, got {config.get('endpoint')!r}"]
    if kind == "otlphttp" and not any(
        config.get(k) for k in ("endpoint", "traces_endpoint", "metrics_endpoint", "logs_endpoint")
    ):
        return [f"{where}: at least one endpoint must be specified"]
    if kind == "clickhouse":
        url = urlsplit(str(config.get("endpoint", "")))
        if not url.scheme or not url.netloc:
            return [f"{where}.endpoint: must be a URL (tcp://host:9000), got {url.geturl()!r}"]
    if kind == "debug" and config.get("verbosity", "basic") not in ("basic", "normal", "detailed"):
        return [f"{where}.verbosity: not supported: {config.get('verbosity')!r}"]
    return []


def collector_problems(config: dict[str, Any]) -> list[str]:
    """Everything wrong with a Collector ``config`` for the components of
    ``component_keys.yaml`` (an empty list: valid)."""
    known = _load_keys()
    defs = known["defs"]
    problems: list[str] = []
    for section in _SECTIONS:
        for name, body in (config.get(section) or {}).items():
            kind = name.split("/", 1)[0]
            if kind not in known[section]:
                problems.append(f"{section}.{name}: unknown component type {kind!r}")
                continue
            problems += _check(body or {}, known[section][kind], defs, f"{section}.{name}")
            problems += _validate_rules(section, kind, name, body or {})
    pipelines = (config.get("service") or {}).get("pipelines") or {}
    if not pipelines:
        problems.append("service.pipelines: none defined")
    for pipeline, body in pipelines.items():
        signal = pipeline.split("/", 1)[0]
        if signal not in ("traces", "metrics", "logs"):
            problems.append(f"service.pipelines.{pipeline}: unknown signal {signal!r}")
        for section in _SECTIONS:
            for name in body.get(section) or []:
                if name not in (config.get(section) or {}):
                    problems.append(f"service.pipelines.{pipeline}.{section}: {name!r} undefined")
        for section in ("receivers", "exporters"):
            if not body.get(section):
                problems.append(f"service.pipelines.{pipeline}: no {section}")
    return problems


def _example() -> dict[str, Any]:
    data: dict[str, Any] = _yaml.load(EXAMPLE.read_text())
    return data


def test_the_example_collector_config_is_valid() -> None:
    assert collector_problems(_example()) == []


def test_the_otlpjsonfile_receiver_reads_what_traceforge_writes() -> None:
    """The receiver's glob covers ``export.otlp.file`` and its rotated files."""
    include = _example()["receivers"]["otlpjsonfile"]["include"]
    (pattern,) = include
    assert Path("/traceforge/otlp/traces.jsonl").match(pattern)
    assert Path("/traceforge/otlp/traces.jsonl.3").match(pattern)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda c: c["exporters"]["clickhouse"].update(create_schemas=True),
            "exporters.clickhouse.create_schemas: unknown key",
        ),
        (
            lambda c: c["exporters"]["clickhouse"].update(ttl="30 days"),
            "exporters.clickhouse.ttl: '30 days' is not a duration",
        ),
        (
            lambda c: c["exporters"]["otlp/tempo"]["tls"].update(insecure="yes"),
            "exporters.otlp/tempo.tls.insecure: 'yes' is not a bool",
        ),
        (
            lambda c: c["exporters"]["otlp/tempo"].update(endpoint="tempo"),
            "exporters.otlp/tempo.endpoint: needs host:port, got 'tempo'",
        ),
        (
            lambda c: c["receivers"]["otlp"]["protocols"].update(thrift={}),
            "receivers.otlp.protocols.thrift: unknown key",
        ),
        (
            lambda c: c["service"]["pipelines"]["traces"]["exporters"].append("jaeger"),
            "service.pipelines.traces.exporters: 'jaeger' undefined",
        ),
        (
            lambda c: c["processors"].update(memory_limiter={}),
            "processors.memory_limiter: unknown component type 'memory_limiter'",
        ),
    ],
)
def test_a_wrong_key_value_or_reference_is_reported(edit: Any, problem: str) -> None:
    config = _example()
    edit(config)
    assert collector_problems(config) == [problem]
