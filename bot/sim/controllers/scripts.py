"""Container scripts: how a simulated container behaves (env HELMBOT_SIM_SCRIPT on the container, JSON).

See docs/sim.md "Scripts". A script is parsed once per container start; bad JSON makes the container fail with
CreateContainerError (a clear, visible error rather than a silently ignored script).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

SCRIPT_ENV = "HELMBOT_SIM_SCRIPT"
PULL_ERRORS = ("notFound", "unauthorized", "noSuchHost")


class ScriptError(ValueError):
    pass


@dataclass(frozen=True)
class LogLine:
    text: str
    delay: float = 0.0  # seconds after the previous line (or after start, for the first)


@dataclass(frozen=True)
class WaitUntil:
    """Run until ConfigMap (or Secret) `name` has data[key] == equals (a gate the app or a test sets)."""

    kind: str  # "ConfigMap" | "Secret"
    name: str
    key: str
    equals: str


@dataclass(frozen=True)
class Script:
    pull: str = "ok"  # ok | notFound | unauthorized | noSuchHost
    pull_seconds: float | None = None
    logs: tuple[LogLine, ...] = ()
    run_seconds: float | None = None  # None: script default (services run forever, jobs/init exit soon)
    forever: bool = False  # explicit "runSeconds": null
    exit_code: int = 0
    oom: bool = False  # exit 137, reason OOMKilled
    fail_runs: int | None = None  # only the first N runs exit with exit_code; later runs succeed
    ready_seconds: float | None = None
    never_ready: bool = False
    wait_for_job: str | None = None
    wait_until: WaitUntil | None = None
    explicit: bool = False  # a script was declared at all


_KEYS = {
    "pull",
    "pullSeconds",
    "logs",
    "runSeconds",
    "exitCode",
    "oom",
    "failRuns",
    "readySeconds",
    "neverReady",
    "waitForJob",
    "waitUntil",
}


def _num(data: dict, key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScriptError(f"{key} must be a non-negative number, got {value!r}")
    return float(value)


def parse_script(text: str | None) -> Script:
    if text is None or not text.strip():
        return Script()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScriptError(f"{SCRIPT_ENV} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ScriptError(f"{SCRIPT_ENV} must be a JSON object")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ScriptError(f"{SCRIPT_ENV}: unknown keys {unknown}; known: {sorted(_KEYS)}")
    pull = data.get("pull", "ok")
    if pull != "ok" and pull not in PULL_ERRORS:
        raise ScriptError(f"pull must be one of ok, {', '.join(PULL_ERRORS)}; got {pull!r}")
    logs = []
    for item in data.get("logs") or []:
        if isinstance(item, str):
            logs.append(LogLine(item))
        elif isinstance(item, dict) and isinstance(item.get("line"), str):
            logs.append(LogLine(item["line"], _num(item, "delay") or 0.0))
        else:
            raise ScriptError(f"logs entries must be strings or {{'line': str, 'delay': seconds}}: {item!r}")
    wait_until = None
    if data.get("waitUntil") is not None:
        wu = data["waitUntil"]
        if not isinstance(wu, dict) or not (wu.get("configMap") or wu.get("secret")) or "key" not in wu:
            raise ScriptError("waitUntil needs {'configMap' or 'secret': name, 'key': k, 'equals': v}")
        kind = "ConfigMap" if wu.get("configMap") else "Secret"
        wait_until = WaitUntil(
            kind, str(wu.get("configMap") or wu.get("secret")), str(wu["key"]), str(wu.get("equals", "true"))
        )
    exit_code = data.get("exitCode", 0)
    if not isinstance(exit_code, int) or isinstance(exit_code, bool) or not 0 <= exit_code <= 255:
        raise ScriptError(f"exitCode must be an integer 0..255, got {exit_code!r}")
    fail_runs = data.get("failRuns")
    if fail_runs is not None and (not isinstance(fail_runs, int) or fail_runs < 0):
        raise ScriptError(f"failRuns must be a non-negative integer, got {fail_runs!r}")
    return Script(
        pull=pull,
        pull_seconds=_num(data, "pullSeconds"),
        logs=tuple(logs),
        run_seconds=_num(data, "runSeconds"),
        forever="runSeconds" in data and data["runSeconds"] is None,
        exit_code=137 if data.get("oom") else exit_code,
        oom=bool(data.get("oom")),
        fail_runs=fail_runs,
        ready_seconds=_num(data, "readySeconds"),
        never_ready=bool(data.get("neverReady")),
        wait_for_job=str(data["waitForJob"]) if data.get("waitForJob") else None,
        wait_until=wait_until,
        explicit=True,
    )


def container_script(container: dict) -> Script:
    """The script of a container: its env var, or the recognised `k8s-wait-for` pattern."""
    text = None
    for env in container.get("env") or []:
        if env.get("name") == SCRIPT_ENV and "value" in env:
            text = env.get("value")
    script = parse_script(text)
    if script.wait_for_job is None and "k8s-wait-for" in str(container.get("image", "")):
        args = [str(a) for a in (container.get("args") or [])]
        if len(args) >= 2 and args[0] in ("job", "job-wr"):
            return replace(script, wait_for_job=args[1], explicit=True)
    return script


def pull_error(image: str, script: Script) -> str | None:
    """The ErrImagePull message, or None if the image pulls (a `.invalid` registry never does)."""
    registry = image.split("/", 1)[0] if "/" in image else ""
    host = registry.split(":", 1)[0]
    ref = normalize_image(image)
    if host.endswith(".invalid") or script.pull == "noSuchHost":
        return (
            f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": failed to do '
            f'request: Head "https://{registry or "registry-1.docker.io"}/v2/": dial tcp: lookup '
            f"{host or 'registry-1.docker.io'}: no such host"
        )
    if script.pull == "notFound":
        return (
            f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {ref}: not found'
        )
    if script.pull == "unauthorized":
        return (
            f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": pull access '
            f"denied, repository does not exist or may require authorization: authorization failed: "
            f"no basic auth credentials"
        )
    return None


def normalize_image(image: str) -> str:
    """What containerd reports: docker.io/library/nginx:latest for nginx."""
    name, digest = [*image.split("@", 1), ""][:2]
    first = name.split("/", 1)[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + (name if "/" in name else "library/" + name)
    last = name.rsplit("/", 1)[-1]
    if not digest and ":" not in last:
        name += ":latest"
    return f"{name}@{digest}" if digest else name
