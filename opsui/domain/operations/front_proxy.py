"""Moving an app that publishes a host port behind a front proxy, and back (``opsui front``).

An app published on a port the operator chose (``ports: "3000:3000"``) is released
stop-first: a second copy cannot bind the port, so every deploy and rollback leaves it
down for a moment. Behind a proxy that owns the port and reaches the app by its
network alias, the app publishes nothing, and its releases start the new container
first and drain the old one (operations/traffic.py). The move itself is the one
interruption left: the old container must let go of the port before the proxy can
bind it, so it is stopped and the proxy started at once, and the time between is
measured and said.

One proxy container per app (``opsui-front-APP``), not one per host: Docker fixes a
container's published ports when it is created, so a shared proxy would have to be
re-created, interrupting every app behind it, each time one more app's port moved to
it. A proxy per app is created once, with exactly that app's ports, and removed by
``--undo`` without touching any other app.

The move is explicit, previewed and reversible, goes through the one action gate,
holds the app's deploy lock, and is journaled in the app's journal as ``front``
records of its own (never as a release: the releases, and where a rollback goes,
keep their meaning). The copies it makes carry ``opsui.kept-from`` naming the
container a release recorded, so history and rollback follow them
(operations/compose_keep.py ``with_kept_copies``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from opsui.domain.errors import ActionFailed, ActionRefused, OpsuiError
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.app_spec import AppSpec, resolve_app
from opsui.domain.operations.app_state import run_of
from opsui.domain.operations.compose_keep import with_kept_copies
from opsui.domain.operations.front_config import ProxyFile, listen_ports, proxy_file
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.health_gate import wait_healthy
from opsui.domain.operations.policy import Action
from opsui.domain.operations.release_run import (
    ReleaseRun,
    Report,
    new_release_id,
    now_iso,
    operator,
)
from opsui.domain.operations.replicas import COMPOSE_SERVICE, traffic_engine
from opsui.domain.ports import (
    ContainerEngine,
    FrontEngine,
    HealthProber,
    HostBinding,
    HostFiles,
)
from opsui.domain.release_copies import KEPT_FROM_LABEL, is_release_copy
from opsui.domain.releases import FAILED, OK, fold_releases
from opsui.domain.sanitize import clean
from opsui.domain.settings import Config

FRONT_LABEL = "opsui.front"
"""On the proxy container: the app it fronts."""
FRONT_PORTS_LABEL = "opsui.front.ports"
"""On the proxy container: the app's bindings it took over, so ``--undo`` gives them
back exactly (JSON: listen port -> container port, protocol, host ip, host port)."""
FRONT_NETWORK_LABEL = "opsui.front.network"
"""On a network opsui created for front proxies (only those are removed by --undo)."""
PROXY_SETTLE = 1.0
"""A started proxy must keep running this long: a bad config exits it at once."""
STOP_TIMEOUT = 10
_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
MOVE, UNDO = "move", "undo"


def front_engine(engine: ContainerEngine) -> FrontEngine | None:
    """The engine's front proxy calls, where it has them (the Docker engine does)."""
    return cast("FrontEngine | None", getattr(engine, "front", None))


def proxy_name(app: str) -> str:
    return f"opsui-front-{app}"


def alias_for(app: str, container_name: str) -> str:
    """The app's name, unless its container has that name: Docker's DNS answers a
    container's name too, so a release's old container, still named so while it
    drains, would stay reachable by it after leaving the alias (and fail the requests
    a proxy sends it once it stops). Then ``APP-front``."""
    return f"{app}-front" if container_name == app else app


def encode_ports(listen: dict[int, HostBinding]) -> str:
    return json.dumps({str(port): [b.container_port, b.protocol, b.host_ip, b.host_port]
                       for port, b in listen.items()}, sort_keys=True)


def decode_ports(text: str) -> dict[int, HostBinding]:
    """The proxy's label back into bindings; a label someone edited is refused."""
    try:
        raw = json.loads(text)
        return {int(port): HostBinding(int(v[0]), str(v[1]), str(v[2]), str(v[3]))
                for port, v in raw.items()}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise ActionRefused(f"the proxy's {FRONT_PORTS_LABEL} label is not opsui's",
                            hint="Move the port back by hand: the proxy publishes it.") from None


@dataclass(frozen=True)
class FrontPlan:
    """What ``opsui front APP`` (or ``--undo``) will do, shown before it runs."""

    host: str
    app: str
    action: str
    """:data:`MOVE` behind the proxy, or :data:`UNDO`."""
    serving: Container
    listen: dict[int, HostBinding]
    """The proxy's listen port of each published port that moves."""
    proxy: str
    image: str
    kind: str
    network: str
    kept: tuple[Container, ...] = ()
    """Kept release containers (rollback targets) re-made along."""
    proxy_id: str = ""
    """Undo: the proxy container there is now."""
    stop_timeout: int = STOP_TIMEOUT
    compose: bool = False
    alias: str = ""
    """The name the proxy reaches the app by on :attr:`network` (see :func:`alias_for`)."""

    @property
    def bindings(self) -> tuple[HostBinding, ...]:
        return tuple(self.listen.values())

    @property
    def request(self) -> ActionRequest:
        return ActionRequest(Action.FRONT, self.host, self.app, self.app, app=self.app,
                             detail="--undo" if self.action == UNDO else "")

    @property
    def steps(self) -> tuple[str, ...]:
        if self.action == UNDO:
            return ("lock", "copy", "stop proxy", "start", "health gate", "switch",
                    "kept releases", "network", "record")
        return ("lock", "network", "copy", "start copy", "health gate", "create proxy",
                "stop old", "start proxy", "switch", "kept releases", "record")

    def describe(self) -> str:
        ports = ", ".join(str(b) for b in self.bindings)
        kept = ", ".join(c.name for c in self.kept)
        if self.action == UNDO:
            lines = [
                f"front {self.app} on {self.host} --undo: the app publishes {ports} itself "
                f"again; proxy {self.proxy} is removed",
                f"  steps: {', '.join(self.steps)}",
                f"  a copy of {self.serving.name} with the ports, off network "
                f"{self.network} (alias {self.alias} dropped), replaces it",
                "  ONE short interruption while the port changes hands: the proxy stops, "
                "then the copy starts and passes its health gate (measured, said after "
                "the run)",
                "  after: releases of the app are stop-first again (fixed host ports)",
                *([f"  kept releases re-made with the ports, off {self.network}: {kept}"]
                  if kept else []),
                f"  network {self.network} is removed if no container is left on it",
                f"  to go behind the proxy again: opsui front {self.app}",
            ]
            return "\n".join(lines)
        file = proxy_file(self.kind, self.app, self.listen, self.alias)
        listens = ", ".join(f"{b} -> proxy :{port}" for port, b in self.listen.items())
        lines = [
            f"front {self.app} on {self.host}: move behind a front proxy ({self.kind})",
            f"  published ports that move: {ports} (from {self.serving.name} to the proxy: "
            f"{listens})",
            f"  proxy container: {self.proxy} from image {self.image}, config {file.path}",
            "  the proxy speaks HTTP to the app (nginx `proxy_pass`, HAProxy `mode http`): "
            "for HTTP ports only",
            f"  network: {self.network} (created if missing), the app on it by alias "
            f"{self.alias} (its other networks and aliases kept)",
            f"  steps: {', '.join(self.steps)}",
            f"  ONE short interruption while the port changes hands: {self.serving.name} "
            f"stops (its stop timeout: up to {self.stop_timeout} s), then the proxy "
            "starts at once; measured, and said after the run",
            "  after: releases of the app are start-first with drain (it publishes no "
            "host port; the proxy follows the alias)",
            *([f"  kept releases re-made without the ports, on {self.network}: {kept} "
               "(rollbacks work behind the proxy)"] if kept else []),
            *(["  compose: the compose file still publishes these ports: `up -d` leaves "
               "the app alone while its config hash agrees, but a re-create would try to "
               "bind the port the proxy holds: drop `ports:` from the service"]
              if self.compose else []),
            f"  undo: opsui front {self.app} --undo",
        ]
        return "\n".join(lines)


def kept_from(records: Iterable[Mapping[str, Any]], containers: list[Container],
              container: Container) -> str:
    """The container id a release recorded for ``container`` (which may be a copy of
    it), so a copy of ``container`` is found for that release again."""
    raw = fold_releases(records)
    mapped = with_kept_copies(raw, containers)
    for before, after in zip(raw, mapped, strict=True):
        if after.container_id == container.id and before.container_id:
            return before.container_id
    return container.id


class FrontProxies:
    """``opsui front`` on one host: plans and runs the move behind the proxy and back."""

    def __init__(self, host: str, engine: ContainerEngine, prober: HealthProber | None,
                 files: HostFiles, gate: ActionGate, config: Config) -> None:
        self.host = host
        self._engine = engine
        self._prober = prober
        self._files = files
        self._gate = gate
        self._config = config

    def resolve(self, ref: str) -> AppSpec:
        return resolve_app(self._config, self.host, ref, self._engine.list_containers())

    def _front(self) -> FrontEngine:
        front = front_engine(self._engine)
        if front is None:
            raise ActionRefused("this engine cannot move ports to a front proxy")
        return front

    def _proxy_of(self, app: str, containers: list[Container]) -> Container | None:
        return next((c for c in containers if c.labels.get(FRONT_LABEL) == app
                     and FRONT_PORTS_LABEL in c.labels), None)

    def _kept(self, app: AppSpec, serving: Container, containers: list[Container],
              behind: bool) -> tuple[Container, ...]:
        """Stopped release containers of the app that still publish the ports (moving
        behind), or that do not (moving back)."""
        front = self._front()
        out = []
        for c in containers:
            if (c.id == serving.id or c.state is ContainerState.RUNNING or not app.owns(c)
                    or not (is_release_copy(c.name) or KEPT_FROM_LABEL in c.labels)):
                continue
            if bool(front.bindings(c.id)) == behind:
                out.append(c)
        return tuple(sorted(out, key=lambda c: c.name))

    def plan(self, app: AppSpec, undo: bool = False) -> FrontPlan:
        request = ActionRequest(Action.FRONT, self.host, app.name, app.name, app=app.name)
        self._gate.check(request)  # read-only: refused before anything is read
        config = self._config.front_proxy
        if config is None:
            raise ActionRefused("no [front_proxy] in opsui.toml",
                                hint='Name your proxy image: [front_proxy] image = '
                                     '"nginx:1.27" (or an HAProxy image).')
        if app.swarm_service:
            raise ActionRefused(f"{app.name} is a Swarm service: its published ports are "
                                "the routing mesh's, and its updates already start first")
        if not _ALIAS.fullmatch(app.name):
            raise ActionRefused(f"'{clean(app.name, 60)}' cannot be a network alias",
                                hint="Name the app with letters, digits, '_', '.', '-'.")
        front = self._front()
        containers = self._engine.list_containers()
        serving = app.serving(containers)
        if serving is None or serving.state is not ContainerState.RUNNING:
            raise ActionRefused(f"{app.name}: no running container of it on {self.host}")
        proxy = self._proxy_of(app.name, containers)
        traffic = traffic_engine(self._engine)
        stop_timeout = traffic.stop_timeout(serving.id) if traffic is not None else STOP_TIMEOUT
        compose = COMPOSE_SERVICE in serving.labels
        if undo:
            if proxy is None:
                raise ActionRefused(f"{app.name} is not behind a front proxy on {self.host}",
                                    hint=f"`opsui front {app.name}` moves it there.")
            listen = decode_ports(proxy.labels[FRONT_PORTS_LABEL])
            return FrontPlan(self.host, app.name, UNDO, serving, listen, proxy.name,
                             proxy.image, config.kind, config.network,
                             self._kept(app, serving, containers, behind=False), proxy.id,
                             stop_timeout, compose, alias_for(app.name, serving.name))
        if proxy is not None:
            raise ActionRefused(f"{app.name} is already behind {proxy.name}",
                                hint=f"`opsui front {app.name} --undo` moves it back.")
        bindings = front.bindings(serving.id)
        if not bindings:
            raise ActionRefused(f"{app.name} publishes no host port of its own choosing: "
                                "its releases already start the new container first")
        udp = [str(b) for b in bindings if b.protocol != "tcp"]
        if udp:
            raise ActionRefused(f"{app.name} publishes {', '.join(udp)}: only TCP ports move "
                                "behind the front proxy")
        return FrontPlan(self.host, app.name, MOVE, serving, listen_ports(bindings),
                         proxy_name(app.name), config.image, config.kind, config.network,
                         self._kept(app, serving, containers, behind=True), "",
                         stop_timeout, compose, alias_for(app.name, serving.name))

    def run(self, app: AppSpec, plan: FrontPlan, answer: bool | str | None,
            report: Report | None = None,
            cancelled: threading.Event | None = None) -> str:
        """Through the gate, under the app's lock; journaled as ``front`` records. Says
        what was done and how long the port was not answered."""
        run = run_of(self._files, app, report=report, cancelled=cancelled,
                     release_id="f" + new_release_id()[1:])
        move = FrontMove(plan, app, self._engine, self._front(), self._prober, run)
        return self._gate.execute(plan.request, answer,
                                  lambda: run.under_lock(f"front {plan.action}", move.go),
                                  journal=run.journal)


@dataclass
class FrontMove:
    """One run of a :class:`FrontPlan`: steps journaled, undone as far as they went on a
    failure before the port changed hands."""

    plan: FrontPlan
    app: AppSpec
    engine: ContainerEngine
    front: FrontEngine
    prober: HealthProber | None
    release: ReleaseRun
    interruption: float | None = None
    """From the stop of what held the port to the start of what holds it now (not the
    proxy's settle check, nor the gate after --undo: the port is served by then)."""
    _taken_over: float = 0.0

    @property
    def run(self) -> ReleaseRun:
        return self.release

    def go(self) -> str:
        plan, run = self.plan, self.run
        run.journal.append({"type": "front", "id": run.release_id, "action": plan.action,
                            "app": plan.app, "who": operator(), "at": now_iso(),
                            "proxy": plan.proxy, "image": plan.image, "kind": plan.kind,
                            "network": plan.network,
                            "ports": [str(b) for b in plan.bindings],
                            "container": plan.serving.id})
        try:
            said = self._undo() if plan.action == UNDO else self._move()
        except OpsuiError as exc:
            self._record(FAILED, str(exc))
            raise
        self._record(OK, said)
        return said

    def _record(self, outcome: str, reason: str) -> None:
        fields: dict[str, Any] = {}
        if self.interruption is not None:
            fields["interruption_seconds"] = round(self.interruption, 3)
        self.run.journal.append({"type": "front_outcome", "id": self.run.release_id,
                                 "outcome": outcome, "reason": clean(reason, 6000),
                                 "at": now_iso(), **fields})
        self.run.ended("record", outcome, 0.0, "")

    # -- behind the proxy ----------------------------------------------------------------

    def _stamp(self) -> str:
        return self.run.release_id

    def _relabel(self, container: Container) -> Callable[[dict[str, str]], dict[str, str]]:
        """The copy of ``container`` answers for the release that recorded it."""
        records = self.run.journal.read().records
        original = kept_from(records, self.engine.list_containers(), container)

        def relabel(labels: dict[str, str]) -> dict[str, str]:
            return {**labels, KEPT_FROM_LABEL: original}

        return relabel

    def _check_serving(self) -> Container:
        plan = self.plan
        now = self.engine.get_container(plan.serving.id)
        if now is None or now.state is not ContainerState.RUNNING:
            raise ActionRefused(f"{plan.serving.name} is no longer running: plan again")
        return now

    def _move(self) -> str:
        plan, run, engine, front = self.plan, self.run, self.engine, self.front
        serving = self._check_serving()
        created: list[str] = []

        def clean_up(why: str) -> str:
            done = []
            for cid in reversed(created):
                try:
                    engine.stop(cid, timeout=STOP_TIMEOUT)
                    engine.remove(cid)
                    done.append(cid[:12])
                except OpsuiError as exc:
                    done.append(f"{cid[:12]} NOT removed ({exc})")
            return f"{why}; removed what it created: {', '.join(done) or 'nothing'}"

        try:
            run.step("network", lambda: front.ensure_network(
                plan.network, {FRONT_NETWORK_LABEL: "1"}))
            relabel = self._relabel(serving)
            copy_name = f"{serving.name}.front-{self._stamp()}"

            def copy() -> str:
                created.append(front.copy_as(serving.id, copy_name, bindings=(),
                                             network=plan.network, alias=plan.alias,
                                             relabel=relabel))
                return f"{copy_name} ({created[-1][:12]}): no host port, alias {plan.alias} " \
                       f"on {plan.network}"

            run.step("copy", copy)
            copy_id = created[0]
            run.step("start copy", lambda: self._start(copy_id))
            run.started("health gate")
            gate = wait_healthy(engine, self.prober, copy_id,
                                replace(self.app.gate, urls=()), cancelled=run.cancelled)
            run.ended("health gate", OK if gate.passed else FAILED, gate.waited, gate.reason)
            if not gate.passed:
                raise ActionFailed(f"the copy did not pass its health gate: {gate.reason}")
            if not engine.image_exists(plan.image):
                run.step("pull proxy image", lambda: engine.pull(plan.image))
            file = proxy_file(plan.kind, plan.app, plan.listen, plan.alias)

            def create_proxy() -> str:
                created.append(self._create_proxy(file))
                return f"{plan.proxy} ({created[-1][:12]}), {file.path}"

            run.step("create proxy", create_proxy)
        except OpsuiError as exc:
            raise ActionFailed(clean_up(f"{exc}; {serving.name} kept serving")) from None
        proxy_id = created[1]
        started = time.monotonic()
        try:
            run.step("stop old", lambda: self._stop(serving.id), cancellable=False)
            run.step("start proxy", lambda: self._start_proxy(proxy_id), cancellable=False)
        except OpsuiError as exc:  # the proxy first: restarting, it would hold the port
            removed = clean_up(str(exc))
            raise ActionFailed(f"{removed}; {self._start_again(serving.id)}") from None
        self.interruption = self._taken_over - started
        before = f"{serving.name}.before-front-{self._stamp()}"

        def switch() -> str:
            engine.rename(serving.id, before)
            engine.rename(copy_id, serving.name)
            try:  # the copy stands for it (opsui.kept-from): keeping it would hide that
                engine.remove(serving.id)
                return f"{copy_name} is {serving.name}; the old one removed"
            except OpsuiError as exc:
                return f"{copy_name} is {serving.name}; the old one kept as {before} ({exc})"

        said = run.step("switch", switch, cancellable=False)
        kept = run.optional_step("kept releases", lambda: self._remake_kept(
            bindings=(), alias=plan.alias))
        return (f"{plan.app} is behind {plan.proxy} ({plan.image}) on {plan.network}: "
                f"{', '.join(str(b) for b in plan.bindings)}; the port was not answered for "
                f"{self.interruption:.2f} s; {said}{kept}. Releases are start-first with "
                f"drain now; undo: opsui front {plan.app} --undo")

    def _create_proxy(self, file: ProxyFile) -> str:
        plan = self.plan
        return self.front.create_proxy(
            plan.proxy, plan.image, ports=plan.listen, network=plan.network,
            labels={FRONT_LABEL: plan.app, FRONT_PORTS_LABEL: encode_ports(plan.listen)},
            config_dir=file.folder, config_name=file.name, config=file.text.encode())

    def _start(self, container_id: str) -> str:
        self.engine.start(container_id)
        return "started"

    def _stop(self, container_id: str) -> str:
        timeout = self.plan.stop_timeout
        self.engine.stop(container_id, timeout=timeout)
        return f"stopped (its stop timeout: {timeout} s)"

    def _start_proxy(self, proxy_id: str) -> str:
        """Started, and still running a moment later (a bad config exits at once)."""
        self.engine.start(proxy_id)
        self._taken_over = time.monotonic()
        deadline = self._taken_over + PROXY_SETTLE
        while True:
            found = self.engine.get_container(proxy_id)
            if found is None or found.state is not ContainerState.RUNNING:
                state = found.status_text if found is not None else "gone"
                raise ActionFailed(f"the proxy {self.plan.proxy} did not keep running "
                                   f"({state}): see `docker logs {self.plan.proxy}`")
            if time.monotonic() >= deadline:
                return "running"
            self.run.cancelled.wait(0.1)

    def _start_again(self, container_id: str) -> str:
        try:
            self.engine.start(container_id)
        except OpsuiError as exc:
            return f"{self.plan.serving.name} could NOT be started again: {exc}"
        return f"{self.plan.serving.name} started again"

    def _remake_kept(self, *, bindings: tuple[HostBinding, ...], alias: str) -> str:
        """Each kept release container as a copy with (or without) the ports and the
        alias, under its own name, so a rollback starts it next to the proxy (or, after
        --undo, on the port again)."""
        done = []
        for kept in self.plan.kept:
            relabel = self._relabel(kept)
            temp = f"{kept.name}-front"
            new_id = self.front.copy_as(kept.id, temp, bindings=bindings,
                                        network=self.plan.network, alias=alias,
                                        relabel=relabel)
            self.engine.remove(kept.id)
            self.engine.rename(new_id, kept.name)
            done.append(kept.name)
        return f"re-made {', '.join(done)}" if done else "none"

    # -- back ----------------------------------------------------------------------------

    def _undo(self) -> str:
        plan, run, engine, front = self.plan, self.run, self.engine, self.front
        serving = self._check_serving()
        relabel = self._relabel(serving)
        copy_name = f"{serving.name}.unfront-{self._stamp()}"
        copy_id = run.step("copy", lambda: front.copy_as(
            serving.id, copy_name, bindings=plan.bindings, network=plan.network, alias="",
            relabel=relabel))

        def give_back(why: str) -> str:
            notes = [why]
            actions: tuple[tuple[Callable[[], None], str], ...] = (
                (lambda: engine.stop(copy_id, timeout=STOP_TIMEOUT), "stop the copy"),
                (lambda: engine.remove(copy_id), "remove the copy"),
                (lambda: engine.start(plan.proxy_id), "start the proxy"))
            for action, what in actions:
                try:
                    action()
                except OpsuiError as exc:
                    notes.append(f"could not {what}: {exc}")
            return "; ".join(notes) + f"; {plan.proxy} serves {plan.app} as before"

        started = time.monotonic()
        try:
            run.step("stop proxy", self._stop_proxy, cancellable=False)
            run.step("start", lambda: self._start(copy_id), cancellable=False)
            self._taken_over = time.monotonic()
            run.started("health gate")
            gate = wait_healthy(engine, self.prober, copy_id, self.app.gate)
            run.ended("health gate", OK if gate.passed else FAILED, gate.waited, gate.reason)
            if not gate.passed:
                raise ActionFailed(f"the copy did not pass its health gate: {gate.reason}")
        except OpsuiError as exc:
            raise ActionFailed(give_back(str(exc))) from None
        self.interruption = self._taken_over - started

        def switch() -> str:
            engine.stop(serving.id, timeout=plan.stop_timeout)
            engine.remove(serving.id)
            engine.rename(copy_id, serving.name)
            engine.remove(plan.proxy_id)
            return f"{copy_name} is {serving.name}; {plan.proxy} removed"

        said = run.step("switch", switch, cancellable=False)
        kept = run.optional_step("kept releases", lambda: self._remake_kept(
            bindings=plan.bindings, alias=""))
        network = run.optional_step("network", lambda: front.remove_network_if_unused(
            plan.network, FRONT_NETWORK_LABEL))
        return (f"{plan.app} publishes {', '.join(str(b) for b in plan.bindings)} itself "
                f"again: the port was not answered for {self.interruption:.2f} s (the proxy "
                f"stopped -> the app started; it passed its gate {gate.waited:.1f} s later); "
                f"{said}{kept}{network}. Releases are stop-first again")

    def _stop_proxy(self) -> str:
        self.engine.stop(self.plan.proxy_id, timeout=STOP_TIMEOUT)
        return f"{self.plan.proxy} stopped"
