"""Which app an operator means, and the settings its deploys run with.

An app is a ``[apps.NAME]`` entry of opsui.toml, or, with no config, any container:
its name is the app's name, and deploys pick another tag of its image. Containers
opsui deploys carry the ``opsui.app`` label, so the app is found again after a
release replaced its container.

An app deployed ad hoc and declared later keeps the name it had as one of its
``former`` names (its containers' labels and its configured container say it), so its
releases stay in its history; a container of a declared app resolves to that app, so
the CLI and the TUI name it alike whichever name the operator types.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from opsui.domain.apps import app_matches, compose_services, in_compose_services
from opsui.domain.apps import base_name as _base_name
from opsui.domain.apps import is_release_copy as is_release_copy  # moved; still importable
from opsui.domain.errors import ActionRefused
from opsui.domain.history import is_safe_app_name
from opsui.domain.logfeed import APP_LABEL
from opsui.domain.models import Container, ContainerState, find_container
from opsui.domain.operations.health_gate import GateSettings
from opsui.domain.settings import AppConfig, Config, DeploySettings

SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"


@dataclass(frozen=True)
class AppSpec:
    """A resolved app: its name, where it runs, and how its releases are made."""

    name: str
    host: str
    settings: DeploySettings
    gate: GateSettings
    image: str | None = None
    """Repository deploys pick tags of; None: the serving container's."""
    swarm_service: str | None = None
    config: AppConfig | None = None
    """None for an ad hoc app (a container picked with no [apps] entry)."""
    former: tuple[str, ...] = ()
    """Names the app's releases were journaled under before it was declared (an ad hoc
    app is named after its container): read with its own history, locked with it."""

    def owns(self, container: Container) -> bool:
        """The app's containers: serving, kept for rollback, or failed copies.

        A compose app (``service``/``services``) owns exactly the containers of its
        compose project and service, kept copies by their hidden original labels: two
        projects on a host often share service names, and a container of the other one
        may carry this app's ``opsui.app`` label (an earlier ad hoc deploy, a namesake
        app of another config); deploying over it, rolling back to it, draining or
        pruning it would be another project's outage. Any other app: its label or name."""
        if self.config is not None and compose_services(self.config):
            return in_compose_services(self.config, container)
        if container.labels.get(APP_LABEL) == self.name:
            return True
        if self.config is not None and self.config.container:
            name = self.config.container
            return app_matches(self.config, container) or container.name.startswith(f"{name}.")
        return container.name == self.name or container.name.startswith(f"{self.name}.")

    def serving(self, containers: list[Container]) -> Container | None:
        """The container that serves the app now: a running one with the app's own name
        first, else any running one of it, else the stopped one holding the name."""
        own = [c for c in containers if self.owns(c)]
        running = [c for c in own if c.state is ContainerState.RUNNING]
        named = [c for c in own if not is_release_copy(c.name)]
        for group in ([c for c in running if c in named], running, named):
            if group:
                return group[0]
        return None


def gate_settings(app: AppConfig | None, settings: DeploySettings) -> GateSettings:
    return GateSettings(timeout=settings.gate_timeout,
                        urls=app.health_urls if app else (),
                        settle_seconds=settings.settle_seconds,
                        probe_timeout=app.health_timeout if app else 5.0)


def resolve_app(config: Config, host: str, ref: str, containers: list[Container]) -> AppSpec:
    """``ref``: an app of opsui.toml on ``host``, or a container name or id (ad hoc)."""
    app = config.app(ref, host)
    if app is not None:
        spec = AppSpec(app.name, host, app.deploy, gate_settings(app, app.deploy), app.image,
                       app.swarm_service, app)
        return replace(spec, former=_former_names(config, spec, containers))
    container = find_container(containers, ref)
    if container is None:
        raise ActionRefused(f"no app or container named '{ref}' on {host}",
                            hint="Run `opsui ps` for container names, or add it under [apps] "
                                 "in opsui.toml.")
    labelled = container.labels.get(APP_LABEL)
    if labelled:
        app = config.app(labelled, host)
        if app is not None and _declared_spec(app, host).owns(container):
            return resolve_app(config, host, app.name, containers)
        if app is not None:  # a namesake's label (another compose project): not its app
            labelled = None
    declared = _declared_owner(config, host, container)
    if declared is not None:  # ``ux-shop`` after [apps.shop] container = "ux-shop"
        return resolve_app(config, host, declared.name, containers)
    swarm = container.labels.get(SWARM_SERVICE_LABEL)
    name = labelled or swarm or _base_name(container.name)
    settings = config.deploy
    return AppSpec(name, host, settings, gate_settings(None, settings), None, swarm, None)


def _declared_owner(config: Config, host: str, container: Container) -> AppConfig | None:
    """The declared app of ``host`` whose container (or release copy) this is."""
    for app in config.apps:
        if app.runs_on(host) and (app.container or app.service) \
                and _declared_spec(app, host).owns(container):
            return app
    return None


def _declared_spec(app: AppConfig, host: str) -> AppSpec:
    """Enough of a declared app to ask which containers it owns."""
    return AppSpec(app.name, host, app.deploy, gate_settings(app, app.deploy), config=app)


def _former_names(config: Config, spec: AppSpec, containers: list[Container]
                  ) -> tuple[str, ...]:
    """The names a declared app may have had ad hoc: its configured container's, and
    the ``opsui.app`` labels of its containers. Never another declared app's name (that
    history is that app's), never a name that cannot name a state folder."""
    assert spec.config is not None
    declared = {app.name for app in config.apps if app.runs_on(spec.host)}
    labels = [c.labels.get(APP_LABEL, "") for c in containers if spec.owns(c)]
    candidates = [spec.config.container or "", *labels]
    return tuple(dict.fromkeys(name for name in candidates if name and name != spec.name
                               and name not in declared and is_safe_app_name(name)))
