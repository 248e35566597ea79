"""The SSH hosts' engine sockets kept between launches: a file that cannot be read or
written is as good as none, never an error (the hosts are asked, as without memory)."""

from __future__ import annotations

import json
from pathlib import Path

from opsui.backends.engine_socket_memory import EngineSocketMemory


def test_what_is_put_is_got_back_by_the_next_launch(tmp_path: Path) -> None:
    path = tmp_path / "state" / "engine-sockets.json"
    EngineSocketMemory(path).put("root@127.0.0.1:2222", "/var/run/docker.sock")
    EngineSocketMemory(path).put("me@web:22 > me@db:22", "/run/user/1000/docker.sock")
    later = EngineSocketMemory(path)
    assert later.get("root@127.0.0.1:2222") == "/var/run/docker.sock"
    assert later.get("me@web:22 > me@db:22") == "/run/user/1000/docker.sock"
    later.put("root@127.0.0.1:2222", None)  # the host's CLI names no Unix socket now
    assert EngineSocketMemory(path).get("root@127.0.0.1:2222") is None
    assert [p.name for p in path.parent.iterdir()] == ["engine-sockets.json"]  # no leftovers


def test_a_damaged_file_is_as_good_as_none_and_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "engine-sockets.json"
    path.write_text("{not json")
    memory = EngineSocketMemory(path)
    assert memory.get("root@127.0.0.1:2222") is None
    memory.put("root@127.0.0.1:2222", "/var/run/docker.sock")
    assert json.loads(path.read_text()) == {"root@127.0.0.1:2222": "/var/run/docker.sock"}
    path.write_text('{"root@127.0.0.1:2222": "relative.sock", "other": 7}')
    assert memory.get("root@127.0.0.1:2222") is None  # only absolute paths are sockets
    assert memory.get("other") is None


def test_a_folder_that_cannot_be_written_loses_nothing_but_the_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder would be")
    memory = EngineSocketMemory(blocker / "engine-sockets.json")
    memory.put("root@127.0.0.1:2222", "/var/run/docker.sock")  # no error
    assert memory.get("root@127.0.0.1:2222") is None
    assert blocker.read_text() == "a file where the folder would be"
