"""The provider registry (``traceforge_shared.providers``) and the shared code reading it:
config's provider names, cost's pricing ids, the generated table of ``docs/providers.md``.
(The proxy's readers are checked in ``packages/proxy/tests/test_provider_registry.py``.)"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

from traceforge_shared import config
from traceforge_shared.cost import cost_usd
from traceforge_shared.providers import (
    PROVIDER_SPECS,
    TABLE_COLUMNS,
    ProviderSpec,
    UnknownProviderError,
    provider_names,
    provider_spec,
    providers_markdown_table,
)
from traceforge_shared.testing import make_trace

#: The seven providers TraceForge had before the registry, in their routing order.
ORIGINAL = ("openai", "anthropic", "gemini", "ollama", "xai", "cohere", "azure")
COMPATIBLE_HOSTS = {
    "groq": ("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "deepseek": ("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "mistral": ("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "together": ("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "fireworks": ("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"),
    "openai-compatible": (None, "OPENAI_COMPATIBLE_API_KEY"),
}


def test_registry_holds_every_provider_in_a_stable_order() -> None:
    assert provider_names() == (*ORIGINAL, *COMPATIBLE_HOSTS)
    assert list(PROVIDER_SPECS) == list(provider_names())
    for name, spec in PROVIDER_SPECS.items():
        assert spec.name == name
        assert spec.native_route == f"/{name}"
        assert spec.display_name


def test_lookup_and_unknown_names() -> None:
    assert provider_spec("anthropic").fixed_headers == (("anthropic-version", "2023-06-01"),)
    with pytest.raises(UnknownProviderError) as caught:
        provider_spec("bedrock")
    assert isinstance(caught.value, KeyError)
    message = str(caught.value)
    assert message.startswith("unknown provider 'bedrock'; known: openai, anthropic, gemini")
    assert message.endswith("fireworks, openai-compatible")
    with pytest.raises(UnknownProviderError):
        provider_spec("OpenAI")  # names are exact


def test_specs_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        provider_spec("openai").base_url = "http://elsewhere"  # type: ignore[misc]


def test_openai_compatible_hosts() -> None:
    for name, (base_url, key_env) in COMPATIBLE_HOSTS.items():
        spec = provider_spec(name)
        assert (spec.base_url, spec.key_envs) == (base_url, (key_env,)), name
        # Globs claim models only while the host is configured (see test_routing_hosts.py).
        assert spec.model_globs != () or name in ("openrouter", "openai-compatible"), name
        assert (spec.wire_format, spec.auth_style, spec.mock_prefix) == ("openai", "bearer", "/v1")
        assert spec.openai_compatible
    assert [n for n, s in PROVIDER_SPECS.items() if s.stream_usage] == [
        "openai",
        "groq",
        "deepseek",
    ]


def test_original_providers_keep_their_settings() -> None:
    expected = {
        "openai": ("https://api.openai.com/v1", ("OPENAI_API_KEY",), "bearer", "/v1"),
        "anthropic": (
            "https://api.anthropic.com",
            ("ANTHROPIC_API_KEY",),
            "x-api-key",
            "/anthropic",
        ),
        "gemini": (
            "https://generativelanguage.googleapis.com",
            ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            "x-goog-api-key",
            "/gemini",
        ),
        "ollama": ("http://localhost:11434", (), "none", "/ollama"),
        "xai": ("https://api.x.ai/v1", ("XAI_API_KEY",), "bearer", "/xai/v1"),
        "cohere": ("https://api.cohere.com", ("CO_API_KEY", "COHERE_API_KEY"), "bearer", "/cohere"),
        "azure": (None, ("AZURE_OPENAI_API_KEY",), "api-key", None),
    }
    for name, values in expected.items():
        spec = provider_spec(name)
        assert (spec.base_url, spec.key_envs, spec.auth_style, spec.mock_prefix) == values, name
    assert provider_spec("ollama").host_env == "OLLAMA_HOST"


def test_wire_formats_name_the_adapters() -> None:
    converted = {n: s.wire_format for n, s in PROVIDER_SPECS.items() if not s.openai_compatible}
    assert converted == {
        "anthropic": "anthropic",
        "gemini": "gemini",
        "ollama": "ollama",
        "cohere": "cohere",
    }


def test_chat_paths_are_regexes_and_gemini_names_its_model_in_the_path() -> None:
    for spec in PROVIDER_SPECS.values():
        for path in spec.chat_paths:
            re.compile(path)
            assert not path.startswith("/")
    (gemini,) = provider_spec("gemini").chat_paths
    match = re.fullmatch(gemini, "v1beta/models/gemini-2.5-flash:streamGenerateContent")
    assert match is not None and match.group("model") == "gemini-2.5-flash"
    assert provider_spec("ollama").chat_paths == ("api/chat", "api/generate")


def test_otel_names_follow_the_genai_conventions() -> None:
    names = {n: s.otel_name for n, s in PROVIDER_SPECS.items()}
    assert names["gemini"] == "gcp.gemini"
    assert names["azure"] == "azure.ai.openai"
    assert names["xai"] == "x_ai"
    assert names["mistral"] == "mistral_ai"
    for name in ("openai", "anthropic", "cohere", "groq", "deepseek"):
        assert names[name] == name
    # No well-known value: the registry name.
    for name in ("ollama", "openrouter", "together", "fireworks", "openai-compatible"):
        assert names[name] == name


def test_key_variables_belong_to_one_provider_each() -> None:
    owners: dict[str, str] = {}
    for name, spec in PROVIDER_SPECS.items():
        for variable in spec.key_envs:
            assert variable not in owners, (variable, owners.get(variable), name)
            owners[variable] = name


def test_config_reads_the_registry() -> None:
    assert provider_names() == config.PROVIDERS
    assert provider_spec("openai").base_url == config.OPENAI_BASE_URL
    listed = config.DEFAULT_CONFIG_YAML.split("upstreams:", 1)[1].split("openai: {}", 1)[0]
    assert set(listed.replace("#", " ").split()) >= set(provider_names())


def test_config_accepts_upstreams_of_new_providers(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "upstreams:\n  groq: {models: ['llama-3.3-*']}\n"
        "  openai-compatible: {base_url: 'http://localhost:8000/v1'}\n"
        "proxy: {default_provider: openai-compatible}\n"
    )
    loaded = config.load_config(path)
    assert loaded.upstreams["groq"].models == ["llama-3.3-*"]
    assert loaded.upstreams["openai-compatible"].base_url == "http://localhost:8000/v1"
    assert loaded.proxy.default_provider == "openai-compatible"


def test_cost_reads_pricing_ids_and_local_providers() -> None:
    usage: dict[str, Any] = {"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000}
    assert cost_usd(make_trace(provider="ollama", model="llama3.2", **usage)) == 0.0
    assert cost_usd(make_trace(provider="openai-compatible", model="gpt-4o-mini", **usage)) is None
    # genai-prices lists this model at groq (USD per million tokens, input + output).
    groq = cost_usd(make_trace(provider="groq", model="llama-3.3-70b-versatile", **usage))
    assert groq is not None and groq > 0
    assert provider_spec("gemini").pricing_id == "google"
    assert provider_spec("xai").pricing_id == "x-ai"
    # Names outside the registry are passed to genai-prices as they are.
    assert cost_usd(make_trace(provider="no-such-host", model="gpt-4o-mini", **usage)) is None


def test_markdown_table_has_one_row_per_provider() -> None:
    lines = providers_markdown_table().splitlines()
    assert lines[0] == "| " + " | ".join(TABLE_COLUMNS) + " |"
    assert len(lines) == 2 + len(PROVIDER_SPECS)
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in lines[2:]}
    assert list(rows) == list(provider_names())
    assert "`claude-*`" in rows["anthropic"] and "`x-api-key`" in rows["anthropic"]
    assert "set `upstreams.azure.base_url`" in rows["azure"]
    assert rows["groq"].endswith("| openai | asked for | `groq` |")
    assert all(line.count(" | ") == len(TABLE_COLUMNS) - 1 for line in lines)


def test_markdown_table_of_an_injected_registry() -> None:
    extra = ProviderSpec(
        name="acme", display_name="Acme", otel_name="acme", pricing_id=None, model_globs=("acme-*",)
    )
    table = providers_markdown_table({"acme": extra})
    assert table.splitlines()[2] == (
        "| acme | `acme-*` | set `upstreams.acme.base_url` | none | `Authorization: Bearer` "
        "| `/acme` | openai | if the client asks | `acme` |"
    )


def _repo_root() -> Path:
    for folder in Path(__file__).resolve().parents:
        if (folder / "docs" / "providers.md").is_file() and (folder / "packages").is_dir():
            return folder
    raise AssertionError("no repository root above this test file")


def test_docs_table_is_the_generated_one() -> None:
    doc = (_repo_root() / "docs" / "providers.md").read_text(encoding="utf-8")
    start, end = "<!-- providers-table:start -->\n", "<!-- providers-table:end -->"
    assert doc.count(start) == 1 and doc.count(end) == 1
    in_doc = doc.split(start, 1)[1].split(end, 1)[0]
    assert in_doc == providers_markdown_table(), (
        "docs/providers.md is stale: paste the output of `python -m traceforge_shared.providers`"
    )


def test_module_prints_the_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "traceforge_shared.providers"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout == providers_markdown_table()
