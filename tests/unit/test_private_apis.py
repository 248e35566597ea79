"""Each private API of Textual, docker-py, requests or urllib3 that opsui relies on.

A private name can change in any release without notice. One test per name, asserting
the shape opsui uses (the parameters it passes, the attribute it reads), means an
upgrade that breaks one fails here, naming the opsui module to fix, instead of somewhere
deep in a UI or integration test. The lock (requirements/lock.txt) pins what CI runs;
bumping it runs these first.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import socket
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import requests
import urllib3
import urllib3.connectionpool
from docker.transport.basehttpadapter import BaseHTTPAdapter
from docker.transport.unixconn import UnixHTTPAdapter
from docker.types.daemon import CancellableStream
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey, RowKey
from ui.helpers import until

from opsui.ui.widgets.live_table import LiveDataTable

# Typed as Any: the stubs (rightly) leave the private names out.
APIClient: Any = docker.APIClient
Stream: Any = CancellableStream


def _params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def _api() -> Any:
    """A low-level docker-py client that never contacts an engine (version given)."""
    return docker.APIClient(base_url="unix:///nonexistent/opsui-test.sock", version="1.41")


# --- Textual ------------------------------------------------------------------------


def test_textual_normalize_key_list() -> None:
    """opsui.ui.keys reads a ``[keys]`` value exactly as Textual's keymap does."""
    from textual.keys import _normalize_key_list

    assert _params(_normalize_key_list) == ["keys"]
    assert _normalize_key_list("ctrl+a, /,x") == "ctrl+a,slash,x"


def test_textual_replaced_keys() -> None:
    """opsui.ui.keys accepts a key's friendly name (``slash``) via its Unicode name."""
    from textual.keys import REPLACED_KEYS

    assert REPLACED_KEYS.get("slash") == "solidus"


def test_textual_merge_bindings() -> None:
    """opsui.ui.keys lists every binding id of a class, its bases' included."""

    class Base(Widget):
        BINDINGS = [Binding("a", "one", "One", id="base.one")]

    class Child(Base):
        BINDINGS = [Binding("b", "two", "Two", id="child.two")]

    pairs = list(Child._merge_bindings())
    ids = {binding.id for _key, binding in pairs}
    assert {"base.one", "child.two"} <= ids
    assert all(isinstance(key, str) for key, _binding in pairs)


class _Probe(App[None]):
    BINDINGS = [Binding("x", "hidden", "Hidden", id="probe.hidden"),
                Binding("y", "shown", "Shown", id="probe.shown")]

    def compose(self) -> ComposeResult:
        yield Static("probe")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "hidden"


async def test_textual_screen_modal_binding_chain() -> None:
    """opsui.ui.screens.help walks the bindings that take effect on the current screen."""
    assert isinstance(inspect.getattr_static(Screen, "_modal_binding_chain"), property)
    app = _Probe()
    async with app.run_test():
        chain = list(app.screen._modal_binding_chain)
        keys = {key for _node, bindings in chain for key, _binding in bindings}
        assert {"x", "y"} <= keys
        assert app in {node for node, _bindings in chain}


async def test_textual_app_check_action_state() -> None:
    """opsui.ui.screens.help hides a key whose ``check_action`` says it does nothing."""
    assert _params(App._check_action_state) == ["self", "action", "default_namespace"]
    app = _Probe()
    async with app.run_test():
        assert app._check_action_state("hidden", app) is False
        assert app._check_action_state("shown", app) is True


async def test_textual_thread_workers_run_on_the_loops_default_executor() -> None:
    """opsui.ui.quitting makes quitting prompt by replacing the loop's default executor,
    which is where Textual runs ``thread=True`` workers."""
    ran_on: list[str] = []
    executor = ThreadPoolExecutor(1, thread_name_prefix="opsui-probe")
    asyncio.get_running_loop().set_default_executor(executor)
    try:
        app = _Probe()
        async with app.run_test():
            worker = app.run_worker(lambda: ran_on.append(threading.current_thread().name),
                                    thread=True)
            await worker.wait()
    finally:
        executor.shutdown(wait=False)
    assert ran_on and ran_on[0].startswith("opsui-probe")


class _Table(App[None]):
    """A rendered two-row DataTable, its caches filled as LiveDataTable finds them."""

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Name", key="name")
        table.add_column("CPU", key="cpu")
        table.add_row("web", "1%", key="web")
        table.add_row("db", "2%", key="db")


async def _rendered_table() -> AsyncIterator[Any]:
    app = _Table()
    async with app.run_test() as pilot:
        table: Any = app.query_one(DataTable)
        await until(pilot, lambda: len(table._line_cache) > 0, "the table drawn")
        yield table


async def test_textual_data_table_data() -> None:
    """opsui.ui.widgets.live_table writes a changed cell straight into ``_data``."""
    async for table in _rendered_table():
        assert table._data[RowKey("web")][ColumnKey("cpu")] == "1%"


async def test_textual_data_table_row_locations() -> None:
    """opsui.ui.widgets.live_table finds a written row's index to repaint it."""
    async for table in _rendered_table():
        assert table._row_locations.get(RowKey("db")) == 1


async def test_textual_data_table_cell_render_cache() -> None:
    """opsui.ui.widgets.live_table drops one cell's rendering: keys start
    (row_key, column_key, ...)."""
    async for table in _rendered_table():
        keys = list(table._cell_render_cache.keys())
        assert (RowKey("web"), ColumnKey("cpu")) in {key[:2] for key in keys}
        assert callable(table._cell_render_cache.discard)


async def test_textual_data_table_row_render_cache() -> None:
    """opsui.ui.widgets.live_table drops a written row's rendering: keys start with
    the row key."""
    async for table in _rendered_table():
        keys = table._row_render_cache.keys()
        assert RowKey("web") in {key[0] for key in keys}


async def test_textual_data_table_row_renderable_cache() -> None:
    """opsui.ui.widgets.live_table drops a row's renderables: keys are
    (update_count, row_index)."""
    async for table in _rendered_table():
        keys = list(table._row_renderable_cache.keys())
        assert keys and all(len(key) == 2 and isinstance(key[1], int) for key in keys)
        assert {0, 1} <= {key[1] for key in keys}


async def test_textual_data_table_line_cache() -> None:
    """opsui.ui.widgets.live_table clears the rendered lines after a write."""
    async for table in _rendered_table():
        assert isinstance(table._line_cache, LRUCache)
        assert len(table._line_cache) > 0


def test_textual_data_table_clear_caches() -> None:
    """opsui.ui.widgets.live_table clears every cache when a fitted column shrinks."""
    assert _params(DataTable._clear_caches) == ["self"]


def test_textual_data_table_require_update_dimensions() -> None:
    """opsui.ui.widgets.live_table asks for the scrollable width to be measured again."""
    table: Any = DataTable()
    assert table._require_update_dimensions is False


def test_live_table_finds_every_cache_it_prunes() -> None:
    """opsui.ui.widgets.live_table silently falls back to the slow ``update_cell``
    when one of the caches above is missing; this says so loudly."""
    assert LiveDataTable().live_updates


# --- docker-py APIClient --------------------------------------------------------------


def test_docker_api_url() -> None:
    """opsui.backends.docker_engine, docker_swarm and docker_clone build engine URLs."""
    assert _api()._url("/services/{0}/update", "svc1").endswith("/v1.41/services/svc1/update")


def _recording(api: Any, method: str) -> list[tuple[str, dict[str, Any]]]:
    """Replace ``api.<method>`` (requests' own) by a recorder of its calls."""
    calls: list[tuple[str, dict[str, Any]]] = []
    setattr(api, method, lambda url, **kwargs: calls.append((url, kwargs)))
    return calls


def test_docker_api_get() -> None:
    """opsui.backends.docker_engine opens the events stream (``stream=True``, params)
    with the client's timeout for the engine's answer."""
    api = _api()
    calls = _recording(api, "get")
    api._get("http+docker://x/events", params={"filters": "{}"}, stream=True)
    assert calls == [("http+docker://x/events",
                      {"params": {"filters": "{}"}, "stream": True, "timeout": api.timeout})]


def test_docker_api_post() -> None:
    """opsui.backends.docker_engine pulls with its own stall timeout and auth headers."""
    api = _api()
    calls = _recording(api, "post")
    api._post("http+docker://x/images/create", params={"tag": "1"},
              headers={"X-Registry-Auth": "e30="}, stream=True, timeout=(5, 60))
    [(url, kwargs)] = calls
    assert url == "http+docker://x/images/create"
    assert kwargs["timeout"] == (5, 60) and kwargs["stream"] is True
    assert kwargs["headers"]["X-Registry-Auth"] == "e30="


def test_docker_api_post_json() -> None:
    """opsui.backends.docker_swarm updates a service with its spec as JSON."""
    assert _params(APIClient._post_json) == ["self", "url", "data", "kwargs"]


def test_docker_api_raise_for_status() -> None:
    """opsui.backends.docker_engine, docker_swarm and docker_clone turn an engine error
    answer into docker-py's APIError."""
    response = requests.Response()
    response.status_code = 404
    response.url = "http+docker://localhost/v1.41/containers/x/json"
    response.raw = io.BytesIO(b'{"message": "no such container"}')
    try:
        _api()._raise_for_status(response)
    except docker.errors.NotFound:
        pass
    else:
        raise AssertionError("_raise_for_status raised nothing for a 404")


def test_docker_api_stream_helper() -> None:
    """opsui.backends.docker_engine decodes the events and pull progress streams."""
    assert _params(APIClient._stream_helper) == ["self", "response", "decode"]


def test_docker_api_disable_socket_timeout() -> None:
    """opsui.backends.docker_streams lifts a follow stream's read timeout."""
    left, right = socket.socketpair()
    with left, right:
        left.settimeout(5)
        _api()._disable_socket_timeout(left)
        assert left.gettimeout() is None


def test_docker_api_get_raw_response_socket() -> None:
    """opsui.backends.docker_streams finds a stream's socket to lift its timeout."""
    assert _params(APIClient._get_raw_response_socket) == ["self", "response"]


def test_docker_api_version_attribute() -> None:
    """opsui.backends.ssh_docker sets the agreed API version after asking the engine."""
    api = _api()
    api._version = "1.43"
    assert api.api_version == "1.43"
    assert "/v1.43/" in api._url("/info")


def test_docker_cancellable_stream_response() -> None:
    """opsui.backends.docker_streams closes an SSH stream's channel through the
    ``_response`` a CancellableStream keeps."""
    response = object()
    assert Stream(iter(()), response)._response is response


def test_docker_cancellable_stream_close_finds_raw_sock() -> None:
    """opsui.backends.ssh_docker's reader exposes ``_sock`` so CancellableStream.close()
    shuts the dial-stdio channel down (``response.raw._fp.fp.raw._sock``)."""
    shut: list[bool] = []

    class Sock:
        def shutdown(self, how: int) -> None:
            shut.append(True)

        def close(self) -> None:
            pass

    class Raw(io.RawIOBase):
        _sock = Sock()

        def readable(self) -> bool:
            return True

    class Head:
        fp = io.BufferedReader(Raw())

    class Body:
        closed = False
        _fp = Head()

    class Response:
        raw = Body()

    Stream(iter(()), Response()).close()
    assert shut == [True]


def test_docker_base_http_adapter_routes_through_get_connection() -> None:
    """opsui.backends.ssh_docker's DialStdioAdapter only overrides ``get_connection``;
    docker-py's base adapter routes requests' newer TLS-context hook to it."""
    asked: list[str] = []

    class Adapter(BaseHTTPAdapter):
        def get_connection(self, url: Any, proxies: Any = None) -> Any:
            asked.append(str(url))
            return "pool"

    request = requests.Request("GET", "http+docker://localhost/v1.41/info").prepare()
    pool: Any = Adapter().get_connection_with_tls_context(request, True)
    assert pool == "pool"
    assert asked == ["http+docker://localhost/v1.41/info"]


def test_docker_unix_adapter_name_and_pool() -> None:
    """opsui.backends.docker_engine recognises a unix-socket engine by the adapter's class
    name and opens plain log bodies on the urllib3 pool ``get_connection`` returns."""
    adapter = _api().get_adapter("http+docker://localhost/v1.41/info")
    assert type(adapter).__name__ == UnixHTTPAdapter.__name__ == "UnixHTTPAdapter"
    pool = adapter.get_connection("http+docker://localhost/v1.41/info")
    assert isinstance(pool, urllib3.connectionpool.HTTPConnectionPool)


# --- urllib3 ------------------------------------------------------------------------


def test_urllib3_pool_new_conn() -> None:
    """opsui.backends.docker_logs opens a fresh connection of a pool for a plain log body;
    opsui.backends.ssh_docker overrides it to open a dial-stdio channel."""
    pool = urllib3.connectionpool.HTTPConnectionPool("localhost")
    assert _params(pool._new_conn) == []
    assert isinstance(pool._new_conn(), urllib3.connection.HTTPConnection)


def test_urllib3_pool_get_conn_and_queue() -> None:
    """opsui.backends.ssh_docker overrides ``_get_conn(timeout)``, taking idle
    connections from ``pool`` (a queue filled with None placeholders)."""
    assert _params(urllib3.connectionpool.HTTPConnectionPool._get_conn) == ["self", "timeout"]
    pool = urllib3.connectionpool.HTTPConnectionPool("localhost", maxsize=1)
    assert pool.pool is not None
    assert pool.pool.get(block=False) is None


def test_urllib3_response_fp() -> None:
    """opsui.backends.docker_engine reads a chunked log stream from ``raw._fp.fp`` (and
    docker_streams finds its SSH channel there): urllib3 keeps the body as ``_fp``."""
    body = io.BytesIO(b"")
    response: Any = urllib3.response.HTTPResponse(body=body, preload_content=False)
    assert response._fp is body
