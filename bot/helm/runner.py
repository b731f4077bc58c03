"""Run the helm binary from an argument list (never a shell string) and turn failures into HelmError.

helm's --timeout applies to each hook and to the wait separately, so the process deadline is a multiple
of it. Anything passed with --set is redacted from errors and from what callers may log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.core.durations import format_duration, parse_duration
from bot.errors import HelmbotError
from bot.helm.args import (
    SET_FLAGS,
    HelmVersion,
    ValuesPolicy,
    history_argv,
    parse_version,
    redact_argv,
    rollback_argv,
    status_argv,
    upgrade_argv,
    version_argv,
)

__all__ = ["HelmError", "HelmNotFound", "HelmResult", "HelmRunner", "HelmTimeout", "helm_message"]

log = logging.getLogger("helmbot.helm")  # argv redacted; never values, stdout or values files
DEFAULT_TIMEOUT = timedelta(minutes=5)          # helm's own --timeout default


class HelmError(HelmbotError, RuntimeError):
    """helm failed; ``message`` is helm's own error line, e.g. 'INSTALLATION FAILED: ...' (with --set
    values scrubbed), so the default `user_message()` (the exception text) is safe to show."""

    def __init__(self, message: str, *, argv: Sequence[str] = (), returncode: int | None = None,
                 stderr: str = "") -> None:
        self.message = message
        self.argv = list(argv)            # redacted
        self.returncode = returncode
        self.stderr = stderr              # redacted
        super().__init__(f"helm {_subcommand(self.argv)} failed: {message}")


class HelmTimeout(HelmError):
    pass


class HelmNotFound(HelmError):
    pass


@dataclass(frozen=True)
class HelmResult:
    argv: list[str]                   # redacted
    returncode: int
    stdout: str
    stderr: str                       # redacted
    duration: float

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise HelmError(f"helm printed invalid JSON ({exc.msg})", argv=self.argv,
                            returncode=self.returncode) from None


def helm_message(stderr: str) -> str:
    """The first 'Error: ...' line without its prefix (helm 4 logs warnings before it)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("Error: "):
            return ln[len("Error: "):]
    return lines[0] if lines else "no error message"


def _subcommand(argv: Sequence[str]) -> str:
    return argv[1] if len(argv) > 1 else "helm"


def _redact_text(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _set_values(argv: Sequence[str]) -> list[str]:
    """The raw values given with --set-style flags, to scrub them from helm's output too."""
    values: list[str] = []
    for i, arg in enumerate(argv):
        payload = None
        if arg in SET_FLAGS and i + 1 < len(argv):
            payload = argv[i + 1]
        elif arg.startswith(tuple(f + "=" for f in SET_FLAGS)):
            payload = arg.partition("=")[2]
        if payload:
            for part in payload.split(","):
                if "=" in part:
                    value = part.split("=", 1)[1]
                    values += [value, value.replace("\\,", ",").replace("\\\\", "\\")]
    return values


class _Killed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__("killed")
        self.stderr = stderr


def _run_detached(argv: Sequence[str], env: Mapping[str, str], limit: float | None) -> tuple[int, str, str]:
    """helm in a session of its own, writing to files rather than pipes: if helmbot dies (kill -9, OOM)
    or is stopped while helm runs, helm finishes its upgrade instead of dying of a broken pipe or a signal
    meant for us, which would leave the release stuck in Helm's pending-* state."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=dict(env),
                                start_new_session=True)
        try:
            returncode = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            err.seek(0)
            raise _Killed(err.read().decode("utf-8", "replace")) from None
        out.seek(0)
        err.seek(0)
        return returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")


class HelmRunner:
    def __init__(self, helm: str | os.PathLike[str] = "helm", *,
                 kubeconfig: str | os.PathLike[str] | None = None, kube_context: str | None = None,
                 helm_home: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
                 inherit_env: bool = True, default_timeout: timedelta | str = DEFAULT_TIMEOUT,
                 policy: ValuesPolicy | None = None) -> None:
        self.helm = str(helm)
        self.kube_context = kube_context
        self.default_timeout = (default_timeout if isinstance(default_timeout, timedelta)
                                else parse_duration(default_timeout))
        self.policy = policy
        base = dict(os.environ) if inherit_env else {k: os.environ[k] for k in ("PATH", "HOME")
                                                     if k in os.environ}
        if kubeconfig is not None:
            base["KUBECONFIG"] = str(kubeconfig)
        if helm_home is not None:
            home = Path(helm_home)
            base.update(HELM_CACHE_HOME=str(home / "cache"), HELM_CONFIG_HOME=str(home / "config"),
                        HELM_DATA_HOME=str(home / "data"))
        base.update(env or {})
        self.env = base
        self._version: HelmVersion | None = None

    # -- low level ------------------------------------------------------------------------------------

    def run(self, args: Sequence[str], *, timeout: timedelta | float | None = None,
            check: bool = True) -> HelmResult:
        """Run ``helm *args``; ``timeout`` bounds the process (seconds or timedelta)."""
        if isinstance(args, str):
            raise TypeError("helm arguments must be a list, never a shell string")
        argv = [self.helm, *args]
        if self.kube_context:
            argv += ["--kube-context", self.kube_context]
        shown = redact_argv(argv)
        secrets = _set_values(argv)
        limit = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        log.debug("running %s", " ".join(shown))
        started = time.monotonic()
        try:
            returncode, stdout, raw_stderr = _run_detached(argv, self.env, limit)
        except FileNotFoundError:
            log.error("helm binary not found: %s", self.helm)
            raise HelmNotFound(f"helm binary not found: {self.helm}", argv=shown) from None
        except _Killed as exc:
            waited = format_duration(timedelta(seconds=limit or 0))
            log.warning("helm %s killed after %s", _subcommand(shown), waited)
            raise HelmTimeout(f"helm did not finish within {waited}",
                              argv=shown, stderr=_redact_text(exc.stderr, secrets)) from None
        duration = time.monotonic() - started
        stderr = _redact_text(raw_stderr, secrets)
        result = HelmResult(argv=shown, returncode=returncode, stdout=stdout, stderr=stderr,
                            duration=duration)
        if returncode != 0:
            # helm's message may quote chart values: it goes to the caller (HelmError), not to the log.
            log.info("helm %s exited %d after %.1fs", _subcommand(shown), returncode, duration)
        else:
            log.debug("helm %s done in %.1fs", _subcommand(shown), duration)
        if check and returncode != 0:
            raise HelmError(helm_message(stderr), argv=shown, returncode=returncode, stderr=stderr)
        return result

    def process_timeout(self, helm_timeout: timedelta) -> timedelta:
        """helm applies --timeout per hook and per wait: allow several, plus start-up slack."""
        return helm_timeout * 4 + timedelta(minutes=1)

    def _timeout(self, timeout: timedelta | str | None) -> timedelta:
        if timeout is None:
            return self.default_timeout
        return timeout if isinstance(timeout, timedelta) else parse_duration(timeout)

    # -- commands -------------------------------------------------------------------------------------

    def version(self) -> HelmVersion:
        if self._version is None:
            self._version = parse_version(self.run(version_argv(), timeout=30).stdout)
            log.info("helm %s at %s", self._version, self.helm)
        return self._version

    def status(self, release: str, namespace: str, revision: int | None = None) -> dict[str, Any]:
        return self.run(status_argv(release, namespace=namespace, revision=revision), timeout=60).json()

    def history(self, release: str, namespace: str, max_revisions: int | None = None) -> list[dict[str, Any]]:
        return self.run(history_argv(release, namespace=namespace, max_revisions=max_revisions),
                        timeout=60).json()

    def upgrade(self, release: str, chart: str, namespace: str, *, timeout: timedelta | str | None = None,
                **options: Any) -> HelmResult:
        """`helm upgrade --install` with flags for the installed helm's major version."""
        helm_timeout = self._timeout(timeout)
        argv = upgrade_argv(release, chart, namespace=namespace, helm_major=self.version().major,
                            timeout=helm_timeout, policy=options.pop("policy", self.policy), **options)
        return self.run(argv, timeout=self.process_timeout(helm_timeout))

    def rollback(self, release: str, namespace: str, revision: int | None = None, *,
                 timeout: timedelta | str | None = None, **options: Any) -> HelmResult:
        helm_timeout = self._timeout(timeout)
        argv = rollback_argv(release, revision, namespace=namespace, helm_major=self.version().major,
                             timeout=helm_timeout, **options)
        return self.run(argv, timeout=self.process_timeout(helm_timeout))
