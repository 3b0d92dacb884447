"""Planning embeddings and the other non-chat native calls (pure: no I/O), and the trace
compaction of embedding vectors."""

from __future__ import annotations

import msgspec
import pytest

from traceforge_proxy.embedding_trace import EmbeddingVectors, compact_vector
from traceforge_proxy.plan import ClientRequest, ForwardingPlan, ProxyAnswer, plan_request
from traceforge_proxy.providers.embeddings import EmbeddingsAdapter, encode_base64
from traceforge_proxy.routing import Router
from traceforge_proxy.upstream import Upstream
from traceforge_shared.config import PROVIDERS, Config, UpstreamConfig
from traceforge_shared.testing import make_trace

BASE = {"gemini": "https://gemini.test", "azure": "https://res.openai.azure.com"}


def _plan(path: str, body: object) -> ForwardingPlan | ProxyAnswer:
    config = Config()
    config.upstreams["azure"] = UpstreamConfig(deployments={"my-embed": "dep1"})
    upstreams = {
        p: Upstream(p, BASE.get(p, f"https://{p}.test"), None, False, api_version="2024-10-21")
        for p in PROVIDERS
    }
    provider, tail = None, path.removeprefix("/v1/")
    if not path.startswith("/v1/"):
        provider, tail = path.lstrip("/").split("/", 1)
    raw = msgspec.json.encode(body)
    request = ClientRequest("POST", path, "", [], raw, body, provider, tail)
    return plan_request(request, Router(config), upstreams)


def test_gemini_model_claimed_by_openai_globs_routes_with_a_prefix() -> None:
    plan = _plan("/v1/embeddings", {"model": "gemini/text-embedding-004", "input": "hi"})
    assert isinstance(plan, ForwardingPlan)
    assert plan.url == "https://gemini.test/v1beta/models/text-embedding-004:batchEmbedContents"
    assert plan.mode == "convert" and plan.target.route == "converted"
    assert msgspec.json.decode(plan.body) == {
        "requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "hi"}]}}]
    }


def test_azure_deployment_gets_its_embeddings_path() -> None:
    plan = _plan("/v1/embeddings", {"model": "my-embed", "input": "hi"})
    assert isinstance(plan, ForwardingPlan)
    assert plan.url == (
        "https://res.openai.azure.com/openai/deployments/dep1/embeddings?api-version=2024-10-21"
    )


def test_unknown_embedding_model_is_a_400() -> None:
    answer = _plan("/v1/embeddings", {"model": "mystery-embed", "input": "hi"})
    assert isinstance(answer, ProxyAnswer) and answer.status == 400


def test_gemini_count_tokens_records_the_model_of_the_path() -> None:
    plan = _plan("/gemini/v1beta/models/gemini-2.5-flash:countTokens", {"contents": []})
    assert isinstance(plan, ForwardingPlan)
    assert (plan.target.model, plan.target.route) == ("gemini-2.5-flash", "passthrough")


def test_bad_dimensions_and_encoding_are_rejected_before_sending() -> None:
    for extra in ({"dimensions": 0}, {"dimensions": True}, {"encoding_format": "int8"}):
        answer = _plan("/v1/embeddings", {"model": "embed-v4.0", "input": "x", **extra})
        assert isinstance(answer, ProxyAnswer) and answer.status == 400


def test_unreadable_answer_is_an_error_not_a_crash() -> None:
    adapter = EmbeddingsAdapter("cohere", ("x",))
    with pytest.raises(ValueError, match="no embedding vectors"):
        adapter.convert_response({"id": "x"}, model="embed-v4.0", created=0)


def test_compaction() -> None:
    vector = [0.5, -0.25, 0.125, 1.0]
    assert compact_vector(vector, 2) == {
        "dimensions": 4,
        "values": [0.5, -0.25],
        "encoding_format": "float",
    }
    assert compact_vector(encode_base64(vector), 3) == {
        "dimensions": 4,
        "values": [0.5, -0.25, 0.125],
        "encoding_format": "base64",
    }
    assert compact_vector("not base64!", 3) == "not base64!"
    chat = make_trace()
    assert EmbeddingVectors(2).before_save(chat) is chat
    bare = msgspec.structs.replace(chat, response=None)  # a call that got no answer
    assert EmbeddingVectors(2).before_save(bare) is bare
