"""One-off commands of an app (migrations): a new container made like the serving one,
or an exec in it, with output streamed line by line.

The one-off container is :func:`~opsui.backends.docker_clone.clone_request` of the
serving container (env, mounts, networks, resources) with the target image and the
command replaced, and what would make it a second copy of the app taken out: no
published ports, no network aliases or static IPs (it must not receive the app's
traffic), no restart policy, no health check, and none of opsui's release labels or
compose's service labels (it is not a release nor a replica). Its output comes from the
engine's log stream, the same code as the log pane, so it works alike locally and over
SSH; the wait is a poll with a deadline.

Both kinds are leased to the opsui that follows them, so a killed opsui leaves no
migration running that nobody will record: an exec'd command by a wrapper in the
container, a one-off container by a watcher on the host
(:class:`~opsui.backends.host_lease.HostLease`) that removes it when the lease lapses;
the container names its lease file in the ``opsui.lease`` label.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker

from opsui.backends.docker_clone import clone_request, create_clone
from opsui.backends.docker_errors import error_reason
from opsui.backends.docker_fields import mapping_or_empty
from opsui.backends.host_lease import HostLease, HostLeases
from opsui.domain.errors import ActionFailed, OpsuiError
from opsui.domain.logfeed import APP_LABEL, RELEASE_LABEL
from opsui.domain.ports import Cancellation, ContainerEngine, JobResult, LineSink
from opsui.domain.sanitize import clean

POLL_SECONDS = 0.2
DRAIN_SECONDS = 5.0
KILL_GRACE_SECONDS = 10.0
QUIET_EXEC_SECONDS = 5.0
"""How long a short exec (a probe, a signal, a lease renewal) may take to be recorded."""
"""How long an exec'd migration has to end after TERM before it gets KILL."""
LEASE_SECONDS = 30
"""An exec'd migration whose lease opsui has not renewed for this long is stopped: the
opsui that started it is gone (killed, or its link lost for good)."""
LEASE_TOUCH_SECONDS = 2.0
# $0 the pid file, the rest: the command, run as a child whose pid is in the file
# before it can print a line (a cancel may follow its first line at once). A
# guard beside it stops it once "$0.lease" is LEASE seconds old; only where touch, stat
# and date work, so a container without them runs the command unguarded, never killed.
_WRAP = r"""
sh -c 'echo "$$" > "$0" 2>/dev/null; exec "$@"' "$0" "$@" &
p=$!
if : > "$0.lease" 2>/dev/null && touch -c "$0.lease" 2>/dev/null \
        && stat -c %Y "$0.lease" >/dev/null 2>&1 && date +%s >/dev/null 2>&1; then
    (
        while sleep 1; do
            kill -0 "$p" 2>/dev/null || exit 0
            t=$(stat -c %Y "$0.lease" 2>/dev/null) || continue
            [ $(($(date +%s) - t)) -ge LEASE ] || continue
            kill -TERM "$p" 2>/dev/null; sleep 10; kill -KILL "$p" 2>/dev/null; exit 0
        done
    ) </dev/null >/dev/null 2>&1 &
fi
wait "$p"; r=$?
rm -f "$0" "$0.lease"
exit "$r"
""".replace("LEASE", str(LEASE_SECONDS))
# $1 the pid file, $2 the signal; exit 1: no pid to signal (the file could not be written).
_SIGNAL = 'p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] || exit 1; kill -"$2" "$p" 2>/dev/null; exit 0'
LEASE_LABEL = "opsui.lease"
"""On a one-off container: the lease file on the host whose lapse removes it."""
_RELEASE_LABELS = (APP_LABEL, RELEASE_LABEL, "opsui.version", "opsui.digest", LEASE_LABEL)
_COMPOSE = "com.docker.compose."
"""Compose's labels would make the one-off container look like a replica of the service."""


def job_request(old: dict[str, Any], old_image: dict[str, Any], image: str,
                command: list[str], name: str, labels: dict[str, str]) -> dict[str, Any]:
    """The create body of a one-off container like ``old`` running ``command``."""
    body = clone_request(old, old_image, image, name)
    body["Cmd"] = list(command)
    body["Labels"] = {**{k: v for k, v in body.get("Labels", {}).items()
                         if k not in _RELEASE_LABELS and not k.startswith(_COMPOSE)},
                      **labels}
    body["Healthcheck"] = {"Test": ["NONE"]}
    for key in ("ExposedPorts", "Hostname", "Tty", "OpenStdin", "StdinOnce", "AttachStdin"):
        body.pop(key, None)
    host_config = dict(body.get("HostConfig") or {})
    host_config.update(PortBindings={}, PublishAllPorts=False, AutoRemove=False,
                       RestartPolicy={"Name": "no"})
    body["HostConfig"] = host_config
    endpoints = mapping_or_empty(body.get("NetworkingConfig")).get("EndpointsConfig") or {}
    body["NetworkingConfig"] = {"EndpointsConfig": {
        net: _private(settings) for net, settings in endpoints.items()}}
    body["_extra_networks"] = {net: _private(settings) for net, settings in
                               mapping_or_empty(body.get("_extra_networks")).items()}
    return body


def _private(endpoint: Any) -> dict[str, Any]:
    """An endpoint without the app's aliases or fixed address (links stay)."""
    links = mapping_or_empty(endpoint).get("Links")
    return {"Links": links} if links else {}


def _lines(batches: Iterator[list[tuple[int, int, bytes]]], output: LineSink) -> None:
    for batch in batches:
        for _, _, raw in batch:
            # The engine's timestamp goes first ("2026-...Z text"): the line is the rest.
            stamp, _, text = raw.partition(b" ")
            output(clean(text if stamp[:2] == b"20" else raw, 4000))


class DockerJobs:
    """:class:`opsui.domain.ports.JobEngine` over the docker API and the engine's logs."""

    def __init__(self, api: Any, engine: ContainerEngine,
                 leases: HostLeases | None = None) -> None:
        self._api = api
        self._engine = engine
        self._leases = leases
        """Where one-off containers are leased; None: they run unleased (no command
        runner on the host was given)."""

    def leased(self, leases: HostLeases) -> DockerJobs:
        """The same jobs, with one-off containers leased through ``leases``."""
        return DockerJobs(self._api, self._engine, leases)

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except docker.errors.APIError as exc:
            raise ActionFailed(f"{what}: {error_reason(exc)}") from None

    def run_like(self, like_id: str, image: str, command: list[str], name: str,
                 labels: dict[str, str], output: LineSink, timeout: float,
                 cancelled: Cancellation) -> JobResult:
        """A lease is taken on the host before the container exists and released once
        it is seen stopped; when opsui loses sight of it (killed, the link or the
        engine gone, an error) the lease lapses and the host removes it."""
        api = self._api
        old = self._call("inspect", lambda: api.inspect_container(like_id))
        old_image = self._call("inspect image", lambda: api.inspect_image(str(old["Image"])))
        lease = self._leases.container(name) if self._leases is not None else None
        if lease is not None:
            lease.start()
            labels = {**labels, LEASE_LABEL: lease.path}
        body = job_request(old, old_image, image, command, name, labels)
        # A create or start that fails keeps the lease: it lapses and the host removes
        # whatever half-made container there is (or finds none).
        container_id = str(self._call("create the migration container",
                                      lambda: create_clone(api, body)))
        self._call("start the migration container", lambda: api.start(container_id))
        result = self._follow(container_id, name, output, timeout, cancelled, lease)
        if lease is not None:
            lease.release()  # seen stopped: it is opsui's to keep or remove
        return result

    def _follow(self, container_id: str, name: str, output: LineSink, timeout: float,
                cancelled: Cancellation, lease: HostLease | None) -> JobResult:
        """Stream the container's output until it stops (killed on cancel or timeout),
        renewing its lease."""
        api = self._api
        stream = self._engine.logs(container_id, tag=0, follow=True)
        reader = threading.Thread(target=_lines, args=(iter(stream), output),
                                  name=f"job-output {name}", daemon=True)
        reader.start()
        deadline = time.monotonic() + timeout
        code: int | None = None
        reason = ""
        try:
            while True:
                if lease is not None:
                    lease.renew(time.monotonic())
                state = mapping_or_empty(self._call(
                    "inspect", lambda: api.inspect_container(container_id)).get("State"))
                if not state.get("Running"):
                    code = int(state.get("ExitCode") or 0)
                    break
                if cancelled.is_set() or time.monotonic() >= deadline:
                    reason = ("cancelled" if cancelled.is_set()
                              else f"timed out after {timeout:g} s")
                    self._call("kill the migration container", lambda: api.kill(container_id))
                    break
                cancelled.wait(POLL_SECONDS)
        finally:
            reader.join(DRAIN_SECONDS)
            stream.close()
        return JobResult(code, container_id, reason)

    def exec_in(self, container_id: str, command: list[str], output: LineSink,
                timeout: float, cancelled: Cancellation) -> JobResult:
        """Exec ``command`` in the container; a cancel or the timeout stops it *there*.

        The engine cannot signal an exec and killing the reader leaves the command
        running, so when the container has ``sh`` the command runs as the child of a
        small wrapper that writes its pid to a file in the container's /tmp; stopping
        is then a second exec that signals that pid (TERM, KILL after
        :data:`KILL_GRACE_SECONDS`). The command is leased to this process: an exec
        every :data:`LEASE_TOUCH_SECONDS` renews it, and the wrapper stops the command
        when it lapses (:data:`LEASE_SECONDS`), so a killed opsui leaves no migration
        running that nobody will record."""
        pid_file = f"/tmp/.opsui-job-{uuid.uuid4().hex[:12]}.pid"
        wrapped = self._has_sh(container_id)
        argv = ["sh", "-c", _WRAP, pid_file, *command] if wrapped else list(command)
        exec_id, finished = self._start_exec(container_id, argv, output)
        deadline = time.monotonic() + timeout
        touched = time.monotonic()
        while not finished.is_set():
            if wrapped and time.monotonic() - touched >= LEASE_TOUCH_SECONDS:
                touched = time.monotonic()
                self._quiet_exec(container_id, ["touch", "-c", f"{pid_file}.lease"])
            if cancelled.is_set() or time.monotonic() >= deadline:
                reason = "cancelled" if cancelled.is_set() else f"timed out after {timeout:g} s"
                if not (wrapped and self._stop_exec(container_id, pid_file, finished)):
                    reason += " (the command may still run)"
                return JobResult(None, "", reason)
            finished.wait(POLL_SECONDS)
        info = self._call("exec", lambda: self._api.exec_inspect(exec_id))
        code = info.get("ExitCode")
        return JobResult(int(code) if code is not None else None, "")

    def _start_exec(self, container_id: str, argv: list[str],
                    output: LineSink) -> tuple[str, threading.Event]:
        """Start an exec whose output goes to ``output`` line by line; set the event
        when its output ends."""
        api = self._api
        created = self._call("exec", lambda: api.exec_create(
            container_id, argv, stdout=True, stderr=True))
        exec_id = str(created["Id"])
        chunks = self._call("exec", lambda: api.exec_start(exec_id, stream=True))
        finished = threading.Event()

        def read() -> None:
            pending = b""
            try:
                for chunk in chunks:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        output(clean(line, 4000))
                if pending:
                    output(clean(pending, 4000))
            except (OSError, OpsuiError, docker.errors.DockerException):
                pass
            finally:
                finished.set()

        threading.Thread(target=read, name="job-exec-output", daemon=True).start()
        return exec_id, finished

    def _quiet_exec(self, container_id: str, argv: list[str]) -> int | None:
        """A short exec's exit code (None when it could not run)."""
        api = self._api
        try:
            exec_id = str(api.exec_create(container_id, argv, stdout=False,
                                          stderr=False)["Id"])
            api.exec_start(exec_id)
            deadline = time.monotonic() + QUIET_EXEC_SECONDS
            while True:  # the engine may record the exit a moment after the stream ends
                info = api.exec_inspect(exec_id)
                if not info.get("Running") or time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
        except docker.errors.DockerException:
            return None
        code = info.get("ExitCode")
        return int(code) if code is not None and not info.get("Running") else None

    def _has_sh(self, container_id: str) -> bool:
        return self._quiet_exec(container_id, ["sh", "-c", "exit 0"]) == 0

    def _stop_exec(self, container_id: str, pid_file: str,
                   finished: threading.Event) -> bool:
        """Signal the wrapped command; whether it ended."""
        for signal_name in ("TERM", "KILL"):
            if self._quiet_exec(container_id, ["sh", "-c", _SIGNAL, "sh", pid_file,
                                               signal_name]) != 0:
                return finished.wait(1.0)  # it had just ended, or left no pid to signal
            if finished.wait(KILL_GRACE_SECONDS):
                return True
        return finished.is_set()

    def remove(self, container_id: str) -> None:
        self._call("remove the migration container",
                   lambda: self._api.remove_container(container_id, v=True, force=True))
