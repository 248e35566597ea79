"""A fake :class:`opsui.domain.ports.TrafficEngine`: aliases per container and network,
proxy reloads, all recorded in the fake engine's ``calls`` (so their order with starts,
stops and renames shows)."""

from __future__ import annotations

from opsui.domain.ports import CommandResult

from .engine import FakeEngine


class FakeTraffic:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.table: dict[str, dict[str, tuple[str, ...]]] = {}
        """Aliases by container id, then network."""
        create = engine.create_like

        def create_like(container_id: str, image: str, name: str,
                        labels: dict[str, str]) -> str:
            """A clone holds its model's aliases, as the Docker clone does."""
            new_id = create(container_id, image, name, labels)
            self.table[new_id] = dict(self.table.get(container_id, {}))
            return new_id

        engine.create_like = create_like  # type: ignore[method-assign]

    def aliases(self, container_id: str) -> dict[str, tuple[str, ...]]:
        return {net: names for net, names in self.table.get(container_id, {}).items()
                if names}

    def set_aliases(self, container_id: str, network: str,
                    aliases: tuple[str, ...]) -> str:
        self.engine.calls.append(("aliases " + ",".join(aliases), container_id))
        self.table.setdefault(container_id, {})[network] = aliases
        return f"{network}: {', '.join(aliases) or 'no alias'}"

    def stop_timeout(self, container_id: str) -> int:
        return 10

    def exec(self, container_id: str, argv: list[str], timeout: float) -> CommandResult:
        self.engine.calls.append(("exec " + " ".join(argv), container_id))
        return CommandResult(0, b"", b"")
