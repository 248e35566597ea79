"""Mapping the engine's dicts to domain models, with dicts recorded from Docker 20.10
(API 1.41, cgroup v1) and trimmed to the fields opsui reads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from opsui.backends.docker_events import event_from_dict
from opsui.backends.docker_fields import parse_time
from opsui.backends.docker_mapping import (
    container_from_inspect,
    container_from_list,
    detail_from_inspect,
    human_duration,
    status_text_from_inspect,
)
from opsui.backends.docker_secrets import MASK, is_secret_name, mask_env
from opsui.backends.docker_stats import cpu_percent, memory_used, stats_from_dict
from opsui.backends.docker_streams import cancel_stream
from opsui.domain.models import ContainerState, EventKind, Health, PortBinding

LIST_HEALTHY: dict[str, Any] = {
    "Id": "630d3a66328144c1c3d7320bfe959be7ea354f8a97dec25743b4cc9a0ce4183a",
    "Names": ["/rec-healthy"],
    "Image": "opsui-dev/busybox:1",
    "ImageID": "sha256:c10d8c76b1b831a24dcf826d0171563950c8f57f1ec103aba727382afb03cbcf",
    "Command": "sh -c 'httpd -f -p 8080 -h /www'",
    "Created": 1795441481,
    "Ports": [
        {"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 32768, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 9090, "PublicPort": 9090, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 9090, "PublicPort": 9090, "Type": "tcp"},
    ],
    "Labels": {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "opsui.test": "1",
    },
    "State": "running",
    "Status": "Up 5 seconds (healthy)",
    "HostConfig": {"NetworkMode": "default"},
    "Mounts": [],
}

LIST_EXITED: dict[str, Any] = {
    "Id": "574f8f036b6bdb9e0c1e2a75024d737851e0d98b570b7d09b2032dd7ab64350a",
    "Names": ["/rec-exited"],
    "Image": "opsui-dev/busybox:1",
    "Created": 1795441481,
    "Ports": [],
    "Labels": {"opsui.test": "1"},
    "State": "exited",
    "Status": "Exited (3) 4 seconds ago",
}

INSPECT_UNHEALTHY: dict[str, Any] = {
    "Id": "c9ae8560eee052114628ea3b41956eab57481f61f967613a78aa156a50c04c99",
    "Created": "2026-11-23T13:44:41.694146938Z",
    "Path": "sleep",
    "Args": ["1000"],
    "State": {
        "Status": "running",
        "Running": True,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 7523,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": "2026-11-23T13:44:41.951437438Z",
        "FinishedAt": "0001-01-01T00:00:00Z",
        "Health": {
            "Status": "unhealthy",
            "FailingStreak": 7,
            "Log": [
                {
                    "Start": "2026-11-23T13:44:48.229382779Z",
                    "End": "2026-11-23T13:44:48.284601084Z",
                    "ExitCode": 1,
                    "Output": "boom\n",
                },
                {
                    "Start": "2026-11-23T13:44:49.288806996Z",
                    "End": "2026-11-23T13:44:49.361273478Z",
                    "ExitCode": 1,
                    "Output": "boom\n",
                },
            ],
        },
    },
    "Image": "sha256:c10d8c76b1b831a24dcf826d0171563950c8f57f1ec103aba727382afb03cbcf",
    "Name": "/rec-unhealthy",
    "RestartCount": 2,
    "HostConfig": {
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
        "PortBindings": {},
    },
    "Mounts": [
        {"Type": "bind", "Source": "/tmp", "Destination": "/host-tmp", "Mode": "ro",
         "RW": False, "Propagation": "rprivate"},
        {"Type": "volume", "Name": "recvol", "Source": "/var/lib/docker/volumes/recvol/_data",
         "Destination": "/data", "Driver": "local", "Mode": "z", "RW": True},
    ],
    "Config": {
        "Hostname": "c9ae8560eee0",
        "Env": [
            "DB_PASSWORD=hunter2",
            "DATABASE_URL=postgres://app:s3cret@db:5432/app",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ],
        "Cmd": ["sleep", "1000"],
        "Healthcheck": {"Test": ["CMD-SHELL", "echo boom >&2; exit 1"], "Interval": 1000000000},
        "Image": "opsui-dev/busybox:1",
        "Entrypoint": None,
        "Labels": {"opsui.test": "1", "com.docker.compose.project": "shop"},
    },
    "NetworkSettings": {
        "Ports": {
            "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}],
            "9090/tcp": [{"HostIp": "0.0.0.0", "HostPort": "9090"},
                         {"HostIp": "::", "HostPort": "9090"}],
            "9999/udp": None,
        },
        "Networks": {
            "shop_default": {"Aliases": ["web", "c9ae8560eee0"], "IPAddress": "172.18.0.3"},
            "bridge": {"Aliases": None, "IPAddress": "172.17.0.3"},
        },
    },
}

INSPECT_EXITED_STATE: dict[str, Any] = {
    "Status": "exited",
    "Running": False,
    "ExitCode": 3,
    "StartedAt": "2026-11-23T13:44:41.5Z",
    "FinishedAt": "2026-11-23T13:44:41.9Z",
}

STATS_RUNNING: dict[str, Any] = {
    "read": "2026-11-23T13:44:50.285729621Z",
    "preread": "0001-01-01T00:00:00Z",
    "pids_stats": {"current": 1},
    "cpu_stats": {
        "cpu_usage": {"total_usage": 186651463, "percpu_usage": [83462599, 103188864]},
        "system_cpu_usage": 963710000000,
        "online_cpus": 2,
    },
    "precpu_stats": {"cpu_usage": {"total_usage": 0}},
    "memory_stats": {
        "usage": 491520,
        "stats": {"cache": 4096, "inactive_file": 4096, "total_inactive_file": 4096},
        "limit": 25276510208,
    },
    "name": "/rec-healthy",
    "id": "630d3a66328144c1c3d7320bfe959be7ea354f8a97dec25743b4cc9a0ce4183a",
}

STATS_STOPPED: dict[str, Any] = {
    "read": "0001-01-01T00:00:00Z",
    "pids_stats": {},
    "cpu_stats": {"cpu_usage": {"total_usage": 0}},
    "precpu_stats": {"cpu_usage": {"total_usage": 0}},
    "memory_stats": {},
    "name": "/rec-exited",
}

_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_list_entry_maps_every_field() -> None:
    c = container_from_list(LIST_HEALTHY)
    assert c.id == LIST_HEALTHY["Id"]
    assert c.name == "rec-healthy"
    assert c.image == "opsui-dev/busybox:1"
    assert c.state is ContainerState.RUNNING
    assert c.health is Health.HEALTHY
    assert c.status_text == "Up 5 seconds (healthy)"
    assert c.created_at == datetime.fromtimestamp(1795441481, UTC)
    assert (c.compose_project, c.compose_service) == ("shop", "web")
    assert c.labels["opsui.test"] == "1"
    assert c.restart_count is None
    assert c.exit_code is None


def test_list_ports_drop_the_ipv6_twin_and_keep_loopback() -> None:
    c = container_from_list(LIST_HEALTHY)
    assert c.ports == (
        PortBinding(8080, "tcp", "127.0.0.1", 32768),
        PortBinding(9090, "tcp", "0.0.0.0", 9090),
    )


def test_list_exposed_but_unpublished_port() -> None:
    entry = dict(LIST_EXITED, Ports=[{"PrivatePort": 5432, "Type": "tcp"}])
    assert container_from_list(entry).ports == (PortBinding(5432, "tcp", None, None),)


def test_list_exit_code_from_status() -> None:
    c = container_from_list(LIST_EXITED)
    assert c.state is ContainerState.EXITED
    assert c.exit_code == 3
    assert c.health is Health.NONE


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("Up 3 seconds (health: starting)", Health.STARTING),
        ("Up 2 minutes (unhealthy)", Health.UNHEALTHY),
        ("Up 2 minutes (healthy)", Health.HEALTHY),
        ("Up 2 minutes", Health.NONE),
        ("Up 2 minutes (Paused)", Health.NONE),
    ],
)
def test_health_from_status_text(status: str, health: Health) -> None:
    assert container_from_list(dict(LIST_HEALTHY, Status=status)).health is health


def test_legacy_link_alias_names_are_skipped() -> None:
    entry = dict(LIST_EXITED, Names=["/web/db", "/db"])
    assert container_from_list(entry).name == "db"


def test_missing_fields_do_not_crash() -> None:
    c = container_from_list({"Id": "abc", "Names": None, "Labels": None, "Ports": None})
    assert (c.name, c.state, c.health, c.ports, c.created_at) == (
        "", ContainerState.UNKNOWN, Health.NONE, (), None
    )


def test_inspect_gives_restart_count_start_time_and_health() -> None:
    now = datetime(2026, 11, 23, 13, 46, 50, tzinfo=UTC)
    c = container_from_inspect(INSPECT_UNHEALTHY, now)
    assert c.name == "rec-unhealthy"
    assert c.image == "opsui-dev/busybox:1"
    assert c.restart_count == 2
    assert c.health is Health.UNHEALTHY
    assert c.started_at == datetime(2026, 11, 23, 13, 44, 41, 951437, tzinfo=UTC)
    assert c.created_at == datetime(2026, 11, 23, 13, 44, 41, 694146, tzinfo=UTC)
    assert c.status_text == "Up 2 minutes (unhealthy)"
    assert c.exit_code is None
    assert c.compose_project == "shop"
    assert c.ports == (
        PortBinding(8080, "tcp", "127.0.0.1", 32768),
        PortBinding(9090, "tcp", "0.0.0.0", 9090),
        PortBinding(9999, "udp", None, None),
    )


def test_inspect_exited_has_exit_code_and_docker_like_status() -> None:
    data = dict(INSPECT_UNHEALTHY, State=INSPECT_EXITED_STATE)
    now = datetime(2026, 11, 23, 13, 45, 41, tzinfo=UTC)
    c = container_from_inspect(data, now)
    assert c.state is ContainerState.EXITED
    assert c.exit_code == 3
    assert c.health is Health.NONE
    assert c.status_text == "Exited (3) 59 seconds ago"


@pytest.mark.parametrize(
    ("state", "text"),
    [
        ({"Status": "created"}, "Created"),
        ({"Status": "paused", "StartedAt": "2026-01-01T00:00:00Z"}, "Up 3 hours (Paused)"),
        ({"Status": "restarting", "ExitCode": 1, "FinishedAt": "2026-01-01T02:59:58Z"},
         "Restarting (1) 2 seconds ago"),
        ({"Status": "running", "StartedAt": "2026-01-01T02:59:59Z",
          "Health": {"Status": "starting"}}, "Up 1 second (health: starting)"),
        ({"Status": "dead"}, "Dead"),
    ],
)
def test_status_text_from_inspect(state: dict[str, Any], text: str) -> None:
    now = datetime(2026, 1, 1, 3, 0, 0, tzinfo=UTC)
    assert status_text_from_inspect(state, now) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(milliseconds=300), "Less than a second"),
        (timedelta(seconds=45), "45 seconds"),
        (timedelta(seconds=90), "About a minute"),
        (timedelta(minutes=59), "59 minutes"),
        (timedelta(minutes=70), "About an hour"),
        (timedelta(hours=30), "30 hours"),
        (timedelta(days=3), "3 days"),
        (timedelta(days=20), "2 weeks"),
        (timedelta(days=100), "3 months"),
        (timedelta(days=1000), "2 years"),
    ],
)
def test_human_duration_matches_docker(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


def test_detail_masks_env_and_maps_mounts_networks_health() -> None:
    d = detail_from_inspect(INSPECT_UNHEALTHY)
    assert d.command == "sleep 1000"
    assert d.entrypoint == ""
    assert dict(d.env)["DB_PASSWORD"] == MASK
    assert dict(d.env)["DATABASE_URL"] == f"postgres://app:{MASK}@db:5432/app"
    assert dict(d.env)["PATH"].startswith("/usr/local/sbin")
    assert [(m.kind, m.source, m.destination, m.read_only) for m in d.mounts] == [
        ("bind", "/tmp", "/host-tmp", True),
        ("volume", "recvol", "/data", False),
    ]
    assert [(n.name, n.ip_address, n.aliases) for n in d.networks] == [
        ("bridge", "172.17.0.3", ()),
        ("shop_default", "172.18.0.3", ("web", "c9ae8560eee0")),
    ]
    assert d.labels == (("com.docker.compose.project", "shop"), ("opsui.test", "1"))
    assert len(d.health_log) == 2
    assert d.health_log[-1].exit_code == 1
    assert d.health_log[-1].output == "boom\n"
    assert d.health_log[-1].ended_at == datetime(2026, 11, 23, 13, 44, 49, 361273, tzinfo=UTC)
    assert d.health_failing_streak == 7
    assert d.restart_policy == "on-failure:3"
    assert d.image_id.startswith("sha256:c10d8c76")


def test_detail_command_quotes_arguments() -> None:
    config = dict(INSPECT_UNHEALTHY["Config"], Cmd=["sh", "-c", "echo hi; sleep 1"],
                  Entrypoint=["/entry.sh"])
    d = detail_from_inspect(dict(INSPECT_UNHEALTHY, Config=config))
    assert d.command == "sh -c 'echo hi; sleep 1'"
    assert d.entrypoint == "/entry.sh"


@pytest.mark.parametrize(
    "name",
    ["DB_PASSWORD", "MYSQL_ROOT_PASSWD", "JWT_SECRET", "GITHUB_TOKEN", "API_KEY",
     "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PRIVATE_KEY", "APIKEY", "SENTRY_DSN",
     "GOOGLE_APPLICATION_CREDENTIALS", "BASIC_AUTH", "OAUTH_CLIENT", "REDIS_PASS",
     "db_password", "SECRET_KEY_BASE", "ENCRYPTION_KEYS"],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["PATH", "HOME", "PWD", "LANG", "KEYBOARD_LAYOUT", "AUTHOR", "PORT", "HOSTNAME"]
)
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


def test_passwords_inside_any_value_are_masked() -> None:
    env = mask_env([
        "CACHE=redis://:pw123@cache:6379/0",
        "UPSTREAM=amqp://guest:p@ss@rabbit:5672/vhost",
        "LIBPQ=host=db user=app password=hunter2 dbname=app",
        "PLAIN=https://example.com/path?x=1",
        "NO_USERINFO=postgres://db:5432/app",
        "EMPTY_PASSWORD=",
    ])
    shown = dict(env)
    assert shown["CACHE"] == f"redis://:{MASK}@cache:6379/0"
    assert shown["UPSTREAM"] == f"amqp://guest:{MASK}@rabbit:5672/vhost"
    assert shown["LIBPQ"] == f"host=db user=app password={MASK} dbname=app"
    assert shown["PLAIN"] == "https://example.com/path?x=1"
    assert shown["NO_USERINFO"] == "postgres://db:5432/app"
    assert shown["EMPTY_PASSWORD"] == ""
    assert "pw123" not in str(env) and "p@ss" not in str(env) and "hunter2" not in str(env)


HOSTILE = "\x1b]0;pwn\x07evil\x1b[2J\x9b31m[@click=app.quit]\x1bc\r\x07"


def _assert_inert(text: str) -> None:
    assert "\x1b" not in text
    assert not _TERMINAL_CONTROLS.search(text.replace("\n", "")), repr(text)


def test_hostile_list_entry_is_sanitised() -> None:
    entry = dict(
        LIST_HEALTHY,
        Names=["/" + HOSTILE],
        Image=HOSTILE,
        Status="Up 1 second " + HOSTILE,
        Labels={HOSTILE: HOSTILE, "com.docker.compose.project": HOSTILE},
    )
    c = container_from_list(entry)
    for text in (c.name, c.image, c.status_text, c.compose_project or "",
                 *c.labels.keys(), *c.labels.values()):
        _assert_inert(text)
    assert "[@click=app.quit]" in c.name  # kept as data; the UI never renders it as markup


def test_hostile_inspect_is_sanitised() -> None:
    state = dict(INSPECT_UNHEALTHY["State"])
    state["Health"] = {"Status": "unhealthy", "FailingStreak": 1,
                       "Log": [{"ExitCode": 1, "Output": f"line1\n{HOSTILE}\nline3"}]}
    config = dict(INSPECT_UNHEALTHY["Config"], Env=[f"{HOSTILE}={HOSTILE}"],
                  Cmd=[HOSTILE], Entrypoint=HOSTILE, Labels={HOSTILE: HOSTILE})
    data = dict(INSPECT_UNHEALTHY, Name="/" + HOSTILE, State=state, Config=config,
                Mounts=[{"Type": HOSTILE, "Source": HOSTILE, "Destination": HOSTILE}],
                NetworkSettings={"Networks": {HOSTILE: {"Aliases": [HOSTILE],
                                                        "IPAddress": HOSTILE}}})
    d = detail_from_inspect(data)
    texts = [d.container.name, d.container.image, d.command, d.entrypoint,
             *(t for pair in d.env for t in pair), *(t for pair in d.labels for t in pair),
             *(t for m in d.mounts for t in (m.kind, m.source, m.destination)),
             *(t for n in d.networks for t in (n.name, n.ip_address, *n.aliases))]
    for text in texts:
        _assert_inert(text)
    output = d.health_log[0].output
    _assert_inert(output)
    assert output.startswith("line1\n") and output.endswith("\nline3")


def test_hostile_event_is_sanitised() -> None:
    event = event_from_dict({"Type": "container", "Action": "start", "Actor": {"ID": HOSTILE}})
    assert event is not None
    _assert_inert(event.container_id)


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("create", EventKind.CHANGED),
        ("start", EventKind.CHANGED),
        ("restart", EventKind.CHANGED),
        ("stop", EventKind.CHANGED),
        ("die", EventKind.CHANGED),
        ("kill", EventKind.CHANGED),
        ("pause", EventKind.CHANGED),
        ("unpause", EventKind.CHANGED),
        ("rename", EventKind.CHANGED),
        ("oom", EventKind.CHANGED),
        ("update", EventKind.CHANGED),
        ("health_status: healthy", EventKind.CHANGED),
        ("health_status: unhealthy", EventKind.CHANGED),
        ("destroy", EventKind.REMOVED),
        ("exec_create: sh -c true", None),
        ("exec_start: sh -c true", None),
        ("exec_die", None),
        ("attach", None),
        ("top", None),
        ("resize", None),
    ],
)
def test_event_actions(action: str, kind: EventKind | None) -> None:
    raw = {
        "status": action, "id": "abc123", "from": "img", "Type": "container", "Action": action,
        "Actor": {"ID": "abc123", "Attributes": {"name": "web"}}, "scope": "local",
        "time": 1795441481, "timeNano": 1795441481123456789,
    }
    event = event_from_dict(raw)
    if kind is None:
        assert event is None
        return
    assert event is not None
    assert event.kind is kind
    assert event.container_id == "abc123"
    assert event.action == action
    assert event.time is not None and event.time.year == 2026


def test_non_container_events_are_ignored() -> None:
    assert event_from_dict({"Type": "network", "Action": "connect", "Actor": {"ID": "n"}}) is None


def test_stats_first_sample_then_delta() -> None:
    result = stats_from_dict("c1", STATS_RUNNING, None)
    assert result is not None
    first, counters = result
    assert first.cpu_percent == 0.0
    assert first.memory_bytes == 491520 - 4096
    assert first.memory_limit_bytes == 25276510208
    assert first.sampled_at == datetime(2026, 11, 23, 13, 44, 50, 285729, tzinfo=UTC)
    later = dict(STATS_RUNNING, cpu_stats={
        "cpu_usage": {"total_usage": 186651463 + 500_000_000},
        "system_cpu_usage": 963710000000 + 2_000_000_000,
        "online_cpus": 2,
    })
    again = stats_from_dict("c1", later, counters)
    assert again is not None
    assert again[0].cpu_percent == pytest.approx(50.0)


def test_stats_uses_precpu_when_engine_sends_it() -> None:
    raw = dict(STATS_RUNNING, precpu_stats={
        "cpu_usage": {"total_usage": 186651463 - 100_000_000},
        "system_cpu_usage": 963710000000 - 1_000_000_000,
        "online_cpus": 2,
    })
    result = stats_from_dict("c1", raw, None)
    assert result is not None
    assert result[0].cpu_percent == pytest.approx(20.0)


def test_stats_of_stopped_container_is_none() -> None:
    assert stats_from_dict("c1", STATS_STOPPED, None) is None


def test_cpu_percent_guards() -> None:
    assert cpu_percent((10, 100, 2), None) == 0.0
    assert cpu_percent((10, 100, 2), (10, 100, 2)) == 0.0
    assert cpu_percent((5, 200, 2), (10, 100, 2)) == 0.0


@pytest.mark.parametrize(
    ("memory", "used"),
    [
        ({"usage": 1000, "stats": {"inactive_file": 300}}, 700),  # cgroup v2
        ({"usage": 1000, "stats": {"total_inactive_file": 200, "cache": 400}}, 800),  # v1
        ({"usage": 1000, "stats": {"cache": 400}}, 600),  # old v1
        ({"usage": 1000, "stats": {}}, 1000),
        ({"usage": 100, "stats": {"inactive_file": 300}}, 100),
    ],
)
def test_memory_minus_page_cache(memory: dict[str, Any], used: int) -> None:
    assert memory_used(memory) == used


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-23T13:44:41.951437438Z", datetime(2026, 11, 23, 13, 44, 41, 951437, tzinfo=UTC)),
        ("2026-11-23T13:44:41Z", datetime(2026, 11, 23, 13, 44, 41, tzinfo=UTC)),
        ("2026-11-23T13:44:41.5+02:00",
         datetime(2026, 11, 23, 11, 44, 41, 500000, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_time(raw: str | None, expected: datetime | None) -> None:
    assert parse_time(raw) == expected


class _Closable:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_cancel_stream_closes_an_ssh_channel_the_sdk_refuses_to_cancel() -> None:
    channel, response = _Closable(), _Closable()
    socket_file = SimpleNamespace(channel=channel)
    response.raw = SimpleNamespace(_fp=SimpleNamespace(fp=socket_file))  # type: ignore[attr-defined]

    class SshStream:
        _response = response

        def close(self) -> None:
            raise RuntimeError("Cancellable streams not supported for the SSH protocol")

    cancel_stream(SshStream())
    assert channel.closed and response.closed


def test_cancel_stream_uses_the_sdk_when_it_can() -> None:
    stream = _Closable()
    cancel_stream(stream)
    assert stream.closed
