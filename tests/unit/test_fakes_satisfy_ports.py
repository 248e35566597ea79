"""Every fake in tests/fakes is a complete stand-in for its port in opsui.domain.ports.

A fake that lacks a port method, or takes its arguments differently, makes the UI
tests pass against something the real host never offers. mypy checks the typed
assignments in ``test_fakes_type_check_as_their_ports`` (the tests are in its
``files``); the runtime comparison below says which member or parameter drifted, for
Protocols that are not ``runtime_checkable``.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from opsui.domain.logfeed import LogFeed
from opsui.domain.ports import (
    BackupStore,
    CommandRunner,
    ContainerEngine,
    EventStream,
    HealthProber,
    HostConnection,
    HostFiles,
    ImageTags,
    JobEngine,
    LogStream,
    MetricsSource,
)

from fakes import (
    FakeBackupStore,
    FakeConnection,
    FakeEngine,
    FakeEvents,
    FakeFeed,
    FakeHostFiles,
    FakeJobs,
    FakeLogStream,
    FakeMetrics,
    FakeProber,
    FakeRegistryTags,
    FakeRunner,
)


def fakes_and_ports() -> list[tuple[Any, type]]:
    """(a fake, the Protocol it stands in for)."""
    engine = FakeEngine()
    return [
        (engine, ContainerEngine),
        (FakeEvents(), EventStream),
        (FakeLogStream([]), LogStream),
        (FakeRegistryTags(engine), ImageTags),
        (FakeMetrics(), MetricsSource),
        (FakeProber(), HealthProber),
        (FakeRunner(), CommandRunner),
        (FakeHostFiles(), HostFiles),
        (FakeBackupStore(), BackupStore),
        (FakeJobs(), JobEngine),
        (FakeConnection("local", engine), HostConnection),
        (FakeFeed(), LogFeed),
    ]


def test_fakes_type_check_as_their_ports() -> None:
    """Each assignment is a check mypy makes; at run time they only have to exist."""
    engine: ContainerEngine = FakeEngine()
    events: EventStream = FakeEvents()
    stream: LogStream = FakeLogStream([])
    tags: ImageTags = FakeRegistryTags(FakeEngine())
    metrics: MetricsSource = FakeMetrics()
    prober: HealthProber = FakeProber()
    runner: CommandRunner = FakeRunner()
    files: HostFiles = FakeHostFiles()
    store: BackupStore = FakeBackupStore()
    jobs: JobEngine = FakeJobs()
    connection: HostConnection = FakeConnection("local")
    feed: LogFeed = FakeFeed()
    assert all(fake is not None for fake in (engine, events, stream, tags, metrics, prober,
                                            runner, files, store, jobs, connection, feed))


_PROTOCOL_INTERNALS = {"__init__", "__subclasshook__", "__class_getitem__",
                       "__init_subclass__", "__parameters__", "__orig_bases__"}


def port_members(port: type) -> dict[str, object]:
    """What a Protocol asks for: its methods and properties, and annotated attributes
    (``name``, ``completed``) as None."""
    members: dict[str, object] = {}
    for klass in reversed(port.__mro__):
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        for name in getattr(klass, "__annotations__", {}):
            members.setdefault(name, None)
        for name, value in vars(klass).items():
            if name in _PROTOCOL_INTERNALS or (name.startswith("_")
                                               and name != "__iter__"):
                continue
            if callable(value) or isinstance(value, property):
                members[name] = value
    return members


def parameter_drift(port_method: Any, fake_method: Any) -> list[str]:
    """How the fake's parameters differ from the port's: a missing or renamed
    parameter, another kind (positional / keyword-only), another default, or an extra
    parameter a caller of the port could not leave out."""
    want = list(inspect.signature(port_method).parameters.values())
    have = {p.name: p for p in inspect.signature(fake_method).parameters.values()}
    drift = []
    for param in want:
        found = have.pop(param.name, None)
        if found is None:
            drift.append(f"no parameter {param.name!r}")
        elif found.kind is not param.kind:
            drift.append(f"{param.name!r} is {found.kind.description}, "
                         f"not {param.kind.description}")
        elif found.default != param.default:
            drift.append(f"{param.name!r} defaults to {found.default!r}, "
                         f"not {param.default!r}")
    drift.extend(f"extra parameter {name!r} without a default" for name, p in have.items()
                 if p.default is inspect.Parameter.empty
                 and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    return drift


@pytest.mark.parametrize(("fake", "port"), fakes_and_ports(),
                         ids=lambda value: getattr(value, "__name__", type(value).__name__))
def test_each_fake_has_every_member_of_its_port_with_the_same_parameters(
        fake: Any, port: type) -> None:
    problems = []
    for name, member in port_members(port).items():
        if isinstance(member, property) or member is None:
            if not hasattr(type(fake), name) and name not in vars(fake):
                problems.append(f"{name}: missing")
            continue
        fake_member = getattr(type(fake), name, None)
        if fake_member is None or not callable(fake_member):
            problems.append(f"{name}(): missing")
            continue
        problems.extend(f"{name}(): {drift}" for drift in parameter_drift(member, fake_member))
    assert problems == [], f"{type(fake).__name__} drifted from {port.__name__}"
