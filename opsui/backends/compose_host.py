"""Compose on the host, through its command runner: the same code locally and over SSH.

:class:`opsui.domain.compose_project.ComposeHost` as commands run where the project
lives, so compose reads the files, the env file and the images *that* host has:
``docker-compose`` for projects made by compose 1.x, ``docker compose`` otherwise,
run in the project's working dir with its files and name from the labels. The pin's
env file is replaced atomically (a temporary file beside it, then ``mv``), its mode
kept.

The drift watch's answers (``config``, ``config --hash``, no env override) are kept
per host connection and asked again only when the project changes (issue 14): the
dashboard checks every released app every 15-60 s, and each ``docker-compose config``
is about half a second of CPU on the host (twice per check), more than all the rest
of an idle dashboard with 100 containers. Whether the files changed is one ``stat``
command (one exec channel over SSH): size, modification time to the nanosecond and
inode of the compose files, the env file, the working dir itself and every entry in
it (a service's ``env_file``, an override file, a file replaced by a rename), and for
docker-compose 1.x, whose config hash includes the service image's id, that id (a
``docker pull`` of the same tag changes the hash). What lies elsewhere (an
``env_file`` or ``extends`` outside the working dir, the host's shell environment,
the ids of containers a 1.x service links to) is noticed within
:data:`MAX_AGE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections.abc import Mapping

from opsui.domain.compose_project import ComposeProject
from opsui.domain.errors import ActionFailed, OpsuiError
from opsui.domain.ports import CommandResult, CommandRunner
from opsui.domain.sanitize import clean_block

_IN_DIR = r'cd -- "$1" && shift && exec "$@"'
_READ = r'if [ -e "$1" ]; then cat -- "$1"; else exit 3; fi'
_WRITE = r"""
set -e
tmp="$1.opsui-$$"
cat > "$tmp"
chmod --reference="$1" "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$1"
"""


_STAT = r"""
cd -- "$1" || exit 3
image=$2; [ -z "$3" ] || export DOCKER_HOST="$3"; shift 3
stat -L -c "%n %s %y %i" -- "$@" . ./* ./.[!.]* 2>/dev/null
[ -z "$image" ] || docker image inspect -f "{{.Id}}" -- "$image" 2>/dev/null
exit 0
"""
"""Prints one line per file that exists (name, size, mtime to the ns, inode), then the
id of ``image`` when one is named."""
MAX_AGE_SECONDS = 3600.0
"""A kept answer is asked again after this long even when no file seen changed."""
MAX_KEPT = 256
"""Answers kept per connection (an app or two each, the pin's versions too)."""
SAME_LOOK_SECONDS = 2.0
"""A facade reuses a fingerprint this fresh: a check asks compose twice (hash, then
config), and the dashboard builds a facade per round of checks."""

_Key = tuple[str, str, tuple[str, ...], bool, tuple[tuple[str, str], ...], tuple[str, ...],
             str | None]


class _Answers:
    """Compose's answers on one connection: key -> (files' fingerprint, when, stdout),
    and the image each project's service was last said to run (a 1.x fingerprint)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kept: dict[_Key, tuple[bytes, float, bytes]] = {}
        self.images: dict[_Key, str] = {}


_ANSWERS: weakref.WeakKeyDictionary[CommandRunner, _Answers] = weakref.WeakKeyDictionary()
"""By runner (one per connection): a facade is built per use, the connection lasts."""
_ANSWERS_LOCK = threading.Lock()


def _answers_of(runner: CommandRunner) -> _Answers | None:
    with _ANSWERS_LOCK:
        try:
            return _ANSWERS.setdefault(runner, _Answers())
        except TypeError:  # a runner that cannot be weakly referenced: nothing kept
            return None


class ShellComposeHost:
    """Runs compose and edits the pin's env file through ``runner``; compose's answers
    are kept per runner while the project's files are unchanged."""

    def __init__(self, runner: CommandRunner, host: str, docker_host: str | None = None,
                 timeout: float = 60.0) -> None:
        self._runner = runner
        self._host = host
        self._docker_host = docker_host
        self._timeout = timeout
        self._looked: dict[tuple[str, tuple[str, ...], str], tuple[float, bytes]] = {}
        """(working dir, files, image) -> (when, fingerprint): this facade's last looks."""

    def _fingerprint(self, project: ComposeProject, image: str) -> bytes | None:
        """A digest of the project's files (and ``image``'s id) as they are now; None
        when it cannot be had (then compose is asked, and says what is wrong)."""
        files = [*project.config_files, project.env_file]
        look = (project.working_dir, tuple(files), image)
        when, seen = self._looked.get(look, (0.0, b""))
        if time.monotonic() - when < SAME_LOOK_SECONDS:
            return seen
        try:
            result = self._runner.run(["sh", "-c", _STAT, "sh", project.working_dir, image,
                                       self._docker_host or "", *files], self._timeout)
        except OpsuiError:
            return None
        if result.exit_code != 0:
            return None
        fingerprint = hashlib.blake2b(result.stdout, digest_size=20).digest()
        self._looked[look] = (time.monotonic(), fingerprint)
        return fingerprint

    def _compose(self, project: ComposeProject, env: Mapping[str, str],
                 *args: str) -> bytes:
        """Compose's output for ``args``, kept while the project's files are unchanged
        (failures are not kept: the next call asks again). Only the watch's questions
        are kept (no ``env``): a release asks with its pin set, once, right after a
        pull that may have changed the image under its tag."""
        answers = None if env else _answers_of(self._runner)
        if answers is None:
            return self._run_compose(project, env, *args)
        key: _Key = (project.working_dir, project.project, project.config_files, project.v1,
                     tuple(sorted(env.items())), args, self._docker_host)
        project_key = (*key[:5], (), key[6])
        with answers.lock:
            kept = answers.kept.get(key)
            image = answers.images.get(project_key, "") if project.v1 else ""
        fingerprint = self._fingerprint(project, image)
        if fingerprint is None:
            return self._run_compose(project, env, *args)
        if kept is not None and kept[0] == fingerprint \
                and time.monotonic() - kept[1] < MAX_AGE_SECONDS:
            return kept[2]
        out = self._run_compose(project, env, *args)
        with answers.lock:
            answers.kept.pop(key, None)
            answers.kept[key] = (fingerprint, time.monotonic(), out)
            if args == ("config",):
                answers.images.pop(project_key, None)
                answers.images[project_key] = image_of(out.decode("utf-8", "replace"),
                                                       project.service)
            for kept_map in (answers.kept, answers.images):
                while len(kept_map) > MAX_KEPT:
                    del kept_map[next(iter(kept_map))]
        return out

    def _run_compose(self, project: ComposeProject, env: Mapping[str, str],
                     *args: str) -> bytes:
        program = ["docker-compose"] if project.v1 else ["docker", "compose"]
        if self._docker_host and not project.v1:
            program = ["docker", "-H", self._docker_host, "compose"]
        files = [arg for path in project.config_files for arg in ("-f", path)]
        setting = [f"{k}={v}" for k, v in env.items()]
        if self._docker_host and project.v1:
            setting.append(f"DOCKER_HOST={self._docker_host}")
        argv = ["sh", "-c", _IN_DIR, "sh", project.working_dir, "env", *setting, *program,
                "-p", project.project, *files, *args]
        result = self._runner.run(argv, self._timeout)
        if result.exit_code != 0:
            raise self._failed(f"{' '.join(program)} {' '.join(args)} in "
                               f"{project.working_dir}", result)
        return result.stdout

    def config_hash(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        out = self._compose(project, env, "config", "--hash", project.service)
        for line in out.decode("utf-8", "replace").splitlines():
            name, _, value = line.strip().partition(" ")
            if name == project.service and value:
                return value.strip()
        raise ActionFailed(f"{self._host}: compose printed no hash for {project.service}")

    def service_image(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        return image_of(self._compose(project, env, "config").decode("utf-8", "replace"),
                        project.service)

    def image_id(self, ref: str) -> str:
        docker = ["docker", "-H", self._docker_host] if self._docker_host else ["docker"]
        result = self._runner.run([*docker, "image", "inspect", "-f", "{{.Id}}", ref],
                                  self._timeout)
        return result.stdout.decode("ascii", "replace").strip() if result.exit_code == 0 \
            else ""

    def read(self, path: str) -> bytes | None:
        result = self._runner.run(["sh", "-c", _READ, "sh", path], self._timeout)
        if result.exit_code == 3:
            return None
        if result.exit_code != 0:
            raise self._failed(f"cannot read {path}", result)
        return result.stdout

    def write_atomic(self, path: str, data: bytes) -> None:
        result = self._runner.run(["sh", "-c", _WRITE, "sh", path], self._timeout, data)
        if result.exit_code != 0:
            raise self._failed(f"cannot write {path}", result)

    def _failed(self, what: str, result: CommandResult) -> ActionFailed:
        detail = clean_block(result.stderr, 500).strip() or f"exit {result.exit_code}"
        return ActionFailed(f"{self._host}: {what}: {detail}")


def image_of(config_yaml: str, service: str) -> str:
    """The ``image:`` of ``service`` in compose's normalised ``config`` output (two-space
    indents, services under ``services:``); "" if it names none."""
    in_services = in_service = False
    for line in config_yaml.splitlines():
        if not line.startswith(" "):
            in_services = line.rstrip() == "services:"
            in_service = False
            continue
        if not in_services:
            continue
        if line.startswith("  ") and not line.startswith("   "):
            in_service = line.strip().rstrip(":").strip("'\"") == service
            continue
        stripped = line.strip()
        if in_service and line.startswith("    ") and not line.startswith("     ") \
                and stripped.startswith("image:"):
            return stripped.removeprefix("image:").strip().strip("'\"")
    return ""
