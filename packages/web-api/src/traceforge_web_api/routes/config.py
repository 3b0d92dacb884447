"""``/api/config``: read and change ``<home>/config.yaml``.

Routes:

- ``GET /api/config`` -> ``200`` :class:`ConfigView`: the file's path and text, and the
  parsed config (the defaults when there is no file), or the ``problem`` that stops it from
  loading.
- ``PUT /api/config`` with either body

  - ``{"yaml": "<the whole file>"}``: the text becomes the file as is (comments, order,
    formatting are the client's), or
  - ``{"merge": {"proxy": {"port": 9000}}}``: settings merged into the current file (or into
    the commented default file when there is none): nested objects merge key by key, any
    other value (``null`` too) replaces; the file keeps its comments, key order and
    indentation (ruamel round trip). Keys cannot be removed this way: send the ``yaml``.

  -> ``200`` :class:`ConfigView` of the new file. The candidate is validated first with the
  shared loader (a temporary file in the same directory), and only then renamed over the
  config file, atomically, mode ``0600`` (:func:`traceforge_shared.configfile.write_config`,
  the writer ``traceforge init`` and the TUI use too); on ``422 {"error", "line",
  "field"}`` the file is untouched.

The proxy reads its config when it starts: changes apply on the next ``traceforge start``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from traceforge_shared.config import Config, ConfigError, config_path, load_config
from traceforge_shared.configfile import read_config_text, update_config, write_config
from traceforge_web_api.common import ApiError, get_store, json_response, read_json_object, route


class ConfigProblem(msgspec.Struct, kw_only=True):
    """Why a config file cannot be loaded.

    Attributes:
        message: the loader's message, with the file, line and field.
        line: 1-based line of the problem, when known.
        field: dotted path of the offending field (``proxy.port``), when known.
    """

    message: str
    line: int | None
    field: str | None


class ConfigView(msgspec.Struct, kw_only=True):
    """``GET``/``PUT /api/config`` answer.

    Attributes:
        path: absolute path of ``config.yaml``.
        exists: whether the file exists (without it every setting has its default).
        yaml: the file's text (``""`` when there is none).
        config: the loaded config; ``null`` when the file cannot be loaded.
        problem: why it cannot be loaded; ``null`` when it can.
    """

    path: str
    exists: bool
    yaml: str
    config: Config | None
    problem: ConfigProblem | None


class ConfigText(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PUT /api/config`` body replacing the whole file.

    Attributes:
        yaml: the new file, kept exactly as sent.
    """

    yaml: str


class ConfigMerge(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PUT /api/config`` body merging settings into the file.

    Attributes:
        merge: settings as nested objects, e.g. ``{"proxy": {"port": 9000}}``.
    """

    merge: dict[str, Any]


class ConfigRefused(msgspec.Struct, kw_only=True):
    """``422`` answer of ``PUT /api/config``: the loader refused the new config.

    Attributes:
        error: the message, naming the config file, the line and the field.
        line: 1-based line of the problem in the sent (or merged) text, when known.
        field: dotted path of the offending field, when known.
    """

    error: str
    line: int | None
    field: str | None


def _view(request: Request) -> ConfigView:
    home = get_store(request).home
    path = config_path(home)
    text = read_config_text(home)
    config: Config | None = None
    problem: ConfigProblem | None = None
    try:
        config = load_config(path)
    except ConfigError as exc:
        problem = ConfigProblem(message=str(exc), line=exc.line, field=exc.field)
    return ConfigView(
        path=str(path.absolute()),
        exists=text is not None,
        yaml=text or "",
        config=config,
        problem=problem,
    )


def get_config(request: Request) -> Response:
    """``GET /api/config`` -> ``200`` :class:`ConfigView`."""
    return json_response(_view(request))


async def put_config(request: Request) -> Response:
    """``PUT /api/config`` with ``{"yaml": text}`` or ``{"merge": {...}}``.

    Returns:
        ``200`` :class:`ConfigView` of the new file; ``400`` a body of neither shape;
        ``422`` :class:`ConfigRefused` (the file is unchanged).
    """
    data = await read_json_object(request)
    store = get_store(request)
    try:
        if set(data) == {"yaml"} and isinstance(data["yaml"], str):
            await run_in_threadpool(write_config, store.home, data["yaml"], fsync=store.fsync)
        elif set(data) == {"merge"} and isinstance(data["merge"], dict):
            await run_in_threadpool(update_config, store.home, data["merge"], fsync=store.fsync)
        else:
            raise ApiError(
                400,
                'the body must be {"yaml": "<the whole file>"} or {"merge": {<settings to merge>}}',
            )
    except ConfigError as exc:
        return json_response(ConfigRefused(error=str(exc), line=exc.line, field=exc.field), 422)
    return json_response(await run_in_threadpool(_view, request))


routes: list[BaseRoute] = [
    route("/api/config", {"GET": get_config, "PUT": put_config}, name="config"),
]
