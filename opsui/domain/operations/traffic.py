"""Moving an app's traffic from its old container to a new one, with a drain.

A reverse proxy on a Docker network reaches the app by a network alias (``app``), which
the engine's DNS answers with the addresses of the running containers holding it. The
new container is created holding the old one's aliases, so once it runs and passes its
gate a proxy can reach both; then, in order: the old container leaves the aliases (it
keeps running and keeps its address, so a proxy that resolved the name earlier still
reaches it), a named proxy is reloaded ONCE (it resolves the alias again: the new
address, not the old; its old workers finish their requests), the old container keeps
running for ``drain_seconds`` (a proxy that re-resolves the name keeps its cached answer
that long, and in-flight requests end), and only then is it stopped, with its own stop
timeout. A cancel during the drain cuts the drain short and finishes the switch: the
new one serves, the old one is stopped and kept.

Once, not twice: nginx's graceful reload makes its old workers close every idle
keep-alive client connection at once, and a client that sends a request on one of them
at that instant gets no answer (RFC 9112 lets a client retry it; browsers do, httpx and
many scripts do not). That is nginx's, not the switch's, but each reload is one more
such moment, and a reload before the old one leaves the aliases added nothing: the old
address was still right (issue 13, the static nginx's lost requests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opsui.domain.errors import ActionFailed, OpsuiError
from opsui.domain.models import Container, ContainerState, find_container
from opsui.domain.operations.compose_keep import keep_for_rollback
from opsui.domain.operations.release_run import ReleaseRun
from opsui.domain.ports import Cancellation, ContainerEngine, TrafficEngine
from opsui.domain.sanitize import clean
from opsui.domain.settings import DeploySettings, ProxyConfig

Aliases = dict[str, tuple[str, ...]]
RELOAD_TIMEOUT = 30.0


@dataclass(frozen=True)
class TrafficSettings:
    """How an app's traffic moves: ``[apps.NAME] drain_seconds`` and ``proxy``."""

    drain_seconds: float = DeploySettings.drain_seconds
    proxy: ProxyConfig | None = None


def traffic_steps(aliases: bool, proxy: bool) -> tuple[str, ...]:
    """The steps that replace a plain "switch" once the new container passed its gate."""
    if not aliases and not proxy:
        return ("switch",)
    return (*(("leave aliases",) if aliases else ()), *(("reload proxy",) if proxy else ()),
            "drain", "stop old", "switch")


def traffic_notes(aliases: Aliases, settings: TrafficSettings, app: str,
                  stop_first: bool = False) -> tuple[str, ...]:
    """What the plan says about the requests in flight while the release switches."""
    if stop_first:
        return ("traffic: the old container stops before the new one starts (fixed host "
                "ports): requests fail until the new one is up",)
    proxy = settings.proxy
    names = "; ".join(f"{', '.join(names)} on {network}" for network, names in aliases.items())
    drain = f"drains {settings.drain_seconds:g} s before it stops"
    if proxy is not None:
        when = (f"the new one joined {names} and passed its gate and the old one left"
                if names else "the new one passed its gate")
        return (f"traffic: proxy {proxy.container} is reloaded ({' '.join(proxy.reload)}) "
                f"once per container, after {when}; the old one {drain}. Each nginx reload "
                "closes its idle keep-alive connections: a request sent on one at that "
                "instant gets no answer unless the client retries it (browsers do)",)
    if not aliases:
        return ("traffic: no network alias: the old container stops right after the new "
                "one passed its gate; whatever reaches it by name or address follows the "
                "name to the new one",)
    return (f"traffic: by alias {names}: the new container joins it, the old one leaves it "
            f"after the gate and {drain}. A proxy that re-resolves the name (nginx "
            "`resolver 127.0.0.11 valid=1s` with a variable upstream) follows within its "
            "cache time; one that resolved it once at start (nginx's plain `proxy_pass "
            "http://NAME:PORT;`) never sees the new container and fails once the old one "
            f"stops: name it, [apps.{app}] proxy = {{ container = \"NAME\" }}, and opsui "
            "reloads it",)


@dataclass
class Handover:
    """One switch of one container (one replica) from ``old`` to ``new_id``."""

    engine: ContainerEngine
    traffic: TrafficEngine | None
    run: ReleaseRun
    settings: TrafficSettings
    left: Aliases = field(default_factory=dict)
    """Aliases the old container has left so far (put back if the switch is undone)."""
    reloaded: bool = False
    cut_short: str = ""
    cancelled: Cancellation | None = None
    """What cuts the drain short; default the run's cancel event. Given one, the run's
    cancel stops none of the steps either (a replica going back after a cancel)."""
    stopped_old: bool = False
    """The old container was stopped by the switch (an undo starts it again)."""

    def aliases_of(self, container_id: str) -> Aliases:
        return self.traffic.aliases(container_id) if self.traffic is not None else {}

    def join_like(self, container_id: str, like: Aliases) -> str:
        """Give ``container_id`` (a kept container going back into service) the aliases
        of ``like`` it lacks: it left them when it was drained."""
        if self.traffic is None:
            return ""
        have = self.traffic.aliases(container_id)
        done = [self.traffic.set_aliases(container_id, network, names)
                for network, names in like.items()
                if not set(names) <= set(have.get(network, ()))]
        return "; ".join(done)

    def reload_proxy(self) -> str:
        proxy = self.settings.proxy
        if proxy is None or self.traffic is None:
            return ""
        found = find_container(self.engine.list_containers(), proxy.container)
        if found is None:
            raise ActionFailed(f"the proxy container {proxy.container} is not on this host",
                               hint="Check [apps.APP] proxy.container in opsui.toml.")
        result = self.traffic.exec(found.id, list(proxy.reload), RELOAD_TIMEOUT)
        self.reloaded = True
        said = clean((result.stderr + result.stdout).decode("utf-8", "replace"), 300).strip()
        if result.exit_code != 0:
            raise ActionFailed(f"{' '.join(proxy.reload)} in {proxy.container} exited "
                               f"{result.exit_code}: {said}")
        return f"{proxy.container}: {' '.join(proxy.reload)}" + (f" ({said})" if said else "")

    def hand_over(self, old: Container, new_id: str, name: str, kept_name: str,
                  named: Callable[[str], str] = lambda step: step) -> str:
        """After the new container passed its gate: aliases, proxy, drain, stop, names.
        Cancellable until the old container starts leaving the aliases; after that it
        only cuts the drain short."""
        run, traffic = self.run, self.traffic
        aliases = self.aliases_of(old.id)
        proxy = self.settings.proxy is not None and traffic is not None
        if not aliases and not proxy:
            return run.step(named("switch"), lambda: switch_names(
                self.engine, old, new_id, name, kept_name), cancellable=self.cancelled is None)
        if aliases:
            assert traffic is not None
            run.step(named("leave aliases"), lambda: self._leave(old.id, aliases),
                     cancellable=self.cancelled is None)
        if proxy:  # once: each reload closes the proxy's idle keep-alive connections
            run.step(named("reload proxy"), self.reload_proxy,
                     cancellable=self.cancelled is None and not aliases)
        run.step(named("drain"), self._drain, cancellable=False,
                 expected=self.settings.drain_seconds)
        run.step(named("stop old"), lambda: self._stop(old.id), cancellable=False)
        switched = run.step(named("switch"), lambda: switch_names(
            self.engine, old, new_id, name, kept_name), cancellable=False)
        return switched + self.cut_short

    def _leave(self, container_id: str, aliases: Aliases) -> str:
        assert self.traffic is not None
        done = []
        for network, names in aliases.items():
            done.append(self.traffic.set_aliases(container_id, network, ()))
            self.left[network] = names
        return "left " + "; ".join(done)

    def _drain(self) -> str:
        seconds = self.settings.drain_seconds
        started = time.monotonic()
        cancelled = self.cancelled if self.cancelled is not None else self.run.cancelled
        if cancelled.wait(seconds):
            waited = time.monotonic() - started
            self.cut_short = (f"; drain cut short by the operator after {waited:.1f} s of "
                              f"{seconds:g} s")
            return f"cut short by the operator after {waited:.1f} s"
        return f"{seconds:g} s"

    def _stop(self, container_id: str) -> str:
        timeout = (self.traffic.stop_timeout(container_id) if self.traffic is not None
                   else 10)
        self.engine.stop(container_id, timeout=timeout)
        self.stopped_old = True
        return f"stopped (its stop timeout: {timeout} s)"

    def undo(self, old_id: str) -> str:
        """The switch is abandoned before the old container stopped: it gets back the
        aliases it left, and a reloaded proxy is reloaded again (after the caller stopped
        the new one). Says what it could not do."""
        detail = ""
        if self.stopped_old:  # the switch failed after the stop: it serves again
            try:
                self.engine.start(old_id)
                self.stopped_old = False
                detail += "\nthe old container started again"
            except OpsuiError as exc:
                detail += f"\nTHE OLD CONTAINER DID NOT START AGAIN: {exc}"
        if self.left and self.traffic is not None:
            for network, names in list(self.left.items()):
                try:
                    self.traffic.set_aliases(old_id, network, names)
                    del self.left[network]
                except OpsuiError as exc:
                    detail += f"\n(could not give back alias {', '.join(names)}: {exc})"
        return detail

    def reload_after_undo(self) -> str:
        if not self.reloaded:
            return ""
        try:
            self.reload_proxy()
        except OpsuiError as exc:
            return f"\n(could not reload the proxy: {exc})"
        return "\nproxy reloaded"


def switch_names(engine: ContainerEngine, old: Container, new_id: str, name: str,
                 kept_name: str) -> str:
    """The new container takes the app's name (so log tails and scripts follow it); the
    old one is stopped and kept under ``kept_name`` for a rollback."""
    current = engine.get_container(old.id)
    if current is not None and current.state is ContainerState.RUNNING:
        engine.stop(old.id)
    keep_for_rollback(engine, current or old, kept_name)  # out of compose's reach
    engine.rename(new_id, name)
    return f"old container kept as {kept_name}"
