"""The scheduler and kubelet: bind pods to nodes, mount volumes, pull images, play scripts.

Per-pod runtime state lives here (like a real kubelet's memory); the pod's status is derived from it
and written only when it changes. Every transition records the Event a real kubelet would.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from bot.sim.controllers.clock import Clock
from bot.sim.controllers.common import backoff, condition_true, event, later, set_condition, ts
from bot.sim.controllers.guard import Guard
from bot.sim.controllers.options import SimOptions
from bot.sim.controllers.scripts import Script, ScriptError, container_script, normalize_image, pull_error
from bot.sim.store import ApiError, Store

KUBELET = "kubelet"
SCHEDULER = "default-scheduler"


@dataclass
class Ctr:
    name: str
    spec: dict
    init: bool
    script: Script
    script_error: str | None = None
    stage: str = (
        "pending"  # pending pulling pull_err pull_backoff create running restarting crash_backoff exited
    )
    due: datetime | None = None
    waiting: tuple[str, str] = ("ContainerCreating", "")
    restart_count: int = 0
    runs: int = 0
    pull_failures: int = 0
    started_at: datetime | None = None
    terminated: dict | None = None  # the current terminated state
    last_state: dict | None = None
    ready: bool = False
    ready_at: datetime | None = None
    end_at: datetime | None = None
    exit_code: int = 0
    log_index: int = 0
    next_log_at: datetime | None = None
    next_unhealthy: datetime | None = None
    container_id: str = ""
    pulled: bool = False
    waited_logged: bool = False

    @property
    def done_ok(self) -> bool:
        return self.stage == "exited" and self.exit_code == 0

    @property
    def image(self) -> str:
        return str(self.spec.get("image", ""))


@dataclass
class PodRt:
    uid: str
    scheduled: bool = False
    node: str = ""
    mounted: bool = False
    next_mount_at: datetime | None = None
    mount_failures: int = 0
    start_time: datetime | None = None
    ip: str = ""
    killing_since: datetime | None = None
    inits: list[Ctr] = field(default_factory=list)
    ctrs: list[Ctr] = field(default_factory=list)


def _new_ctr(spec: dict, init: bool) -> Ctr:
    try:
        return Ctr(str(spec.get("name")), spec, init, container_script(spec))
    except ScriptError as exc:
        return Ctr(str(spec.get("name")), spec, init, Script(), script_error=str(exc))


class Kubelet:
    def __init__(self, store: Store, clock: Clock, options: SimOptions) -> None:
        self.store, self.clock, self.opt = store, clock, options
        self.pods: dict[str, PodRt] = {}
        self.images: set[tuple[str, str]] = set()  # (node, image) already present
        self._ip_counter = 1
        self.guard = Guard(KUBELET, clock, base=options.error_backoff, cap=options.error_backoff_max)

    # ---- loop --------------------------------------------------------------------------------------------

    def tick(self) -> None:
        now = self.clock.now()
        pods = self.store.list("/pods")
        self.guard.each(pods, lambda pod: self._sync(pod, now))
        for uid in set(self.pods) - {p["metadata"]["uid"] for p in pods}:
            del self.pods[uid]

    def _sync(self, pod: dict, now: datetime) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        rt = self.pods.get(meta["uid"])
        if rt is None:
            rt = self.pods[meta["uid"]] = PodRt(
                meta["uid"],
                inits=[_new_ctr(c, True) for c in spec.get("initContainers") or []],
                ctrs=[_new_ctr(c, False) for c in spec.get("containers") or []],
            )
            for ctr in rt.inits + (rt.ctrs if rt.inits else []):
                ctr.waiting = ("PodInitializing", "")
        if meta.get("deletionTimestamp"):
            self._stop(pod, rt, now)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") and rt.start_time is None:
            return  # a finished pod this kubelet does not know (e.g. after a restart): leave it alone
        if not rt.scheduled and not self._schedule(pod, rt, now):
            return
        if not rt.mounted and not self._mount(pod, rt, now):
            self._write_status(pod, rt, now)
            return
        if not rt.ip:
            rt.ip = f"10.244.{self._node_index(rt.node)}.{self._next_ip()}"
        policy = spec.get("restartPolicy", "Always")
        if not self._init_failed(rt, policy):
            for ctr in rt.inits:
                if ctr.done_ok:
                    continue
                self._advance(pod, rt, ctr, policy, now)
                break
            if all(c.done_ok for c in rt.inits):
                for ctr in rt.ctrs:
                    self._advance(pod, rt, ctr, policy, now)
        self._write_status(pod, rt, now)

    def _next_ip(self) -> int:
        self._ip_counter = self._ip_counter % 250 + 1
        return self._ip_counter + 1

    def _node_index(self, node: str) -> int:
        return self.opt.nodes.index(node) if node in self.opt.nodes else 0

    @staticmethod
    def _init_failed(rt: PodRt, policy: str) -> bool:
        return policy == "Never" and any(c.stage == "exited" and c.exit_code != 0 for c in rt.inits)

    # ---- scheduling and volumes ----------------------------------------------------------------------------

    def _schedule(self, pod: dict, rt: PodRt, now: datetime) -> bool:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        problem = self._claims_problem(pod)
        if problem:
            if rt.next_mount_at is None or now >= rt.next_mount_at:
                event(
                    self.store,
                    pod,
                    "FailedScheduling",
                    problem,
                    warning=True,
                    component=SCHEDULER,
                    action="Scheduling",
                )
                rt.mount_failures += 1
                rt.next_mount_at = later(
                    now, backoff(self.opt.mount_retry, self.opt.mount_retry_max, rt.mount_failures)
                )

            def unschedulable(p: dict) -> None:
                status = p.setdefault("status", {})
                status["phase"] = "Pending"
                set_condition(status, "PodScheduled", "False", "Unschedulable", problem, now)

            self.store.mutate(
                "/pods", meta.get("namespace"), meta["name"], unschedulable, subresource="status"
            )
            return False
        rt.mount_failures, rt.next_mount_at = 0, later(now, self.opt.mount_seconds)
        node = (
            spec.get("nodeName")
            or self.opt.nodes[int(hashlib.sha1(meta["name"].encode()).hexdigest(), 16) % len(self.opt.nodes)]
        )
        if not spec.get("nodeName"):

            def bind(p: dict) -> None:
                p.setdefault("spec", {})["nodeName"] = node

            self.store.mutate("/pods", meta.get("namespace"), meta["name"], bind)
            event(
                self.store,
                pod,
                "Scheduled",
                f"Successfully assigned {meta.get('namespace')}/{meta['name']} to {node}",
                component=SCHEDULER,
                action="Binding",
            )
        rt.scheduled, rt.node, rt.start_time = True, node, now
        return True

    def _claims_problem(self, pod: dict) -> str | None:
        ns = pod["metadata"].get("namespace")
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self.store.get("/persistentvolumeclaims", ns, claim)
            tail = ". preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
            if pvc is None:
                return (
                    f'0/{len(self.opt.nodes)} nodes are available: persistentvolumeclaim "{claim}" not found'
                    + tail
                )
            if (pvc.get("status") or {}).get("phase") != "Bound":
                return (
                    f"0/{len(self.opt.nodes)} nodes are available: pod has unbound immediate "
                    f"PersistentVolumeClaims" + tail
                )
        return None

    def _mount(self, pod: dict, rt: PodRt, now: datetime) -> bool:
        if rt.mount_failures == 0 and rt.next_mount_at is not None and now < rt.next_mount_at:
            return False  # sandbox and volume setup take a moment after scheduling
        errors = self._mount_errors(pod)
        if not errors:
            rt.mounted, rt.mount_failures, rt.next_mount_at = True, 0, None
            return True
        if rt.next_mount_at is None or now >= rt.next_mount_at:
            for msg in errors:
                event(self.store, pod, "FailedMount", msg, warning=True)
            rt.mount_failures += 1
            rt.next_mount_at = later(
                now, backoff(self.opt.mount_retry, self.opt.mount_retry_max, rt.mount_failures)
            )
        return False

    def _mount_errors(self, pod: dict) -> list[str]:
        ns = pod["metadata"].get("namespace")
        out = []
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            sources = [vol] + [s for s in (vol.get("projected") or {}).get("sources") or []]
            for src in sources:
                for kind, key, name_field in (
                    ("configmap", "configMap", "name"),
                    ("secret", "secret", "secretName"),
                ):
                    ref = src.get(key)
                    if not isinstance(ref, dict) or ref.get("optional"):
                        continue
                    name = str(ref.get(name_field) or ref.get("name") or "")
                    obj = self.store.get("/configmaps" if kind == "configmap" else "/secrets", ns, name)
                    prefix = f'MountVolume.SetUp failed for volume "{vol.get("name")}" : '
                    if obj is None:
                        out.append(f'{prefix}{kind} "{name}" not found')
                        continue
                    data = {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}
                    for item in ref.get("items") or []:
                        if item.get("key") not in data:
                            out.append(
                                f"{prefix}{kind} references non-existent config key: {item.get('key')}"
                            )
        return out

    def _config_error(self, pod: dict, spec: dict) -> str | None:
        ns = pod["metadata"].get("namespace")
        for env in spec.get("env") or []:
            vf = env.get("valueFrom") or {}
            for key, kind, label in (
                ("configMapKeyRef", "/configmaps", "ConfigMap"),
                ("secretKeyRef", "/secrets", "Secret"),
            ):
                ref = vf.get(key)
                if not isinstance(ref, dict) or ref.get("optional"):
                    continue
                obj = self.store.get(kind, ns, ref.get("name", ""))
                if obj is None:
                    return f'{label.lower()} "{ref.get("name")}" not found'
                if ref.get("key") not in (obj.get("data") or {}):
                    return f"couldn't find key {ref.get('key')} in {label} {ns}/{ref.get('name')}"
        for src in spec.get("envFrom") or []:
            for key, kind, label in (
                ("configMapRef", "/configmaps", "configmap"),
                ("secretRef", "/secrets", "secret"),
            ):
                ref = src.get(key)
                if (
                    isinstance(ref, dict)
                    and not ref.get("optional")
                    and self.store.get(kind, ns, ref.get("name", "")) is None
                ):
                    return f'{label} "{ref.get("name")}" not found'
        return None

    # ---- containers ----------------------------------------------------------------------------------------

    def _cevent(self, pod: dict, c: Ctr, reason: str, message: str, *, warning: bool = False) -> None:
        """A container's Event: involvedObject.fieldPath names it, as a real kubelet's do."""
        path = f"spec.{'initContainers' if c.init else 'containers'}{{{c.name}}}"
        event(self.store, pod, reason, message, warning=warning, field_path=path)

    def _advance(self, pod: dict, rt: PodRt, c: Ctr, policy: str, now: datetime) -> None:
        for _ in range(20):  # several instant transitions may happen in one tick
            if not self._step(pod, rt, c, policy, now):
                return

    def _step(self, pod: dict, rt: PodRt, c: Ctr, policy: str, now: datetime) -> bool:
        due = c.due is None or now >= c.due
        if c.stage == "pending":
            return self._begin_pull(pod, rt, c, now)
        if c.stage == "pulling" and due:
            err = pull_error(c.image, c.script)
            if err:
                c.pull_failures += 1
                msg = f'Failed to pull image "{c.image}": {err}'
                self._cevent(pod, c, "Failed", msg, warning=True)
                self._cevent(pod, c, "Failed", "Error: ErrImagePull", warning=True)
                c.waiting = ("ErrImagePull", msg)
                c.stage, c.due = "pull_err", later(now, self.opt.pull_backoff / 2)
                return False
            ms = int((self._pull_seconds(c)) * 1000)
            self._cevent(
                pod,
                c,
                "Pulled",
                f'Successfully pulled image "{c.image}" in {ms}ms ({ms}ms including '
                f"waiting). Image size: {len(c.image) * 1048576} bytes.",
            )
            self.images.add((rt.node, c.image))
            c.pulled = True
            c.stage, c.due = "create", None
            return True
        if c.stage == "pull_err" and due:
            self._cevent(pod, c, "BackOff", f'Back-off pulling image "{c.image}"')
            self._cevent(pod, c, "Failed", "Error: ImagePullBackOff", warning=True)
            c.waiting = (
                "ImagePullBackOff",
                f'Back-off pulling image "{c.image}": ErrImagePull: '
                f"{c.waiting[1].removeprefix(f'Failed to pull image {chr(34)}{c.image}{chr(34)}: ')}",
            )
            c.stage = "pull_backoff"
            c.due = later(now, backoff(self.opt.pull_backoff, self.opt.pull_backoff_max, c.pull_failures))
            return False
        if c.stage == "pull_backoff" and due:
            c.stage = "pending"
            return True
        if c.stage == "create" and due:
            return self._create(pod, rt, c, policy, now)
        if c.stage == "running":
            return self._run(pod, rt, c, policy, now)
        if c.stage == "restarting" and due:
            self._restart(pod, c)
            return True
        if c.stage == "crash_backoff" and due:
            self._restart(pod, c)
            return True
        return False

    def _pull_seconds(self, c: Ctr) -> float:
        return self.opt.pull_seconds if c.script.pull_seconds is None else c.script.pull_seconds

    def _begin_pull(self, pod: dict, rt: PodRt, c: Ctr, now: datetime) -> bool:
        c.waiting = ("PodInitializing" if c.init else "ContainerCreating", "")
        policy = c.spec.get("imagePullPolicy", "IfNotPresent")
        present = (rt.node, c.image) in self.images and pull_error(c.image, c.script) is None
        if present and policy != "Always":
            self._cevent(pod, c, "Pulled", f'Container image "{c.image}" already present on machine')
            c.pulled = True
            c.stage, c.due = "create", None
            return True
        if policy == "Never":
            msg = f'Container image "{c.image}" is not present with pull policy of Never'
            c.waiting = ("ErrImageNeverPull", msg)
            self._cevent(pod, c, "ErrImageNeverPull", msg, warning=True)
            c.stage, c.due = "never", None
            return False
        self._cevent(pod, c, "Pulling", f'Pulling image "{c.image}"')
        c.stage, c.due = "pulling", later(now, self._pull_seconds(c))
        return True

    def _create(self, pod: dict, rt: PodRt, c: Ctr, policy: str, now: datetime) -> bool:
        problem = c.script_error and f"failed to parse the container script: {c.script_error}"
        reason = "CreateContainerError"
        if not problem:
            problem, reason = self._config_error(pod, c.spec), "CreateContainerConfigError"
        if problem:
            if c.waiting != (reason, problem) or c.due is None or now >= c.due:
                self._cevent(pod, c, "Failed", f"Error: {problem}", warning=True)
                c.due = later(now, self.opt.config_retry)
            c.waiting = (reason, problem)
            return False
        c.runs += 1
        c.container_id = "containerd://" + secrets.token_hex(32)
        self._cevent(pod, c, "Created", f"Created container: {c.name}")
        self._cevent(pod, c, "Started", f"Started container {c.name}")
        c.stage, c.due, c.terminated, c.started_at = "running", None, None, now
        c.log_index, c.next_log_at, c.waited_logged = 0, None, False
        s = c.script
        failing = s.fail_runs is None or c.runs <= s.fail_runs
        job_like = c.init or policy != "Always"
        c.exit_code = s.exit_code if failing else 0
        if s.wait_for_job or s.wait_until or s.forever or (not failing and not job_like):
            c.end_at = None
        elif s.run_seconds is not None:
            c.end_at = later(now, s.run_seconds)
        elif job_like or s.exit_code != 0 or s.oom:
            c.end_at = later(now, self.opt.job_run_seconds)
        else:
            c.end_at = None
        will_fail = c.end_at is not None and c.exit_code != 0 and s.ready_seconds is None
        if c.init or s.never_ready or will_fail:
            c.ready_at = None
        else:
            c.ready_at = later(now, self.opt.ready_seconds if s.ready_seconds is None else s.ready_seconds)
        c.next_unhealthy = later(now, self.opt.probe_period)
        if s.logs:
            c.next_log_at = later(now, s.logs[0].delay)
        return True

    def _run(self, pod: dict, rt: PodRt, c: Ctr, policy: str, now: datetime) -> bool:
        meta = pod["metadata"]
        s = c.script
        while c.log_index < len(s.logs) and c.next_log_at is not None and now >= c.next_log_at:
            self.store.logs.append(meta.get("namespace", ""), meta["name"], c.name, s.logs[c.log_index].text)
            c.log_index += 1
            if c.log_index < len(s.logs):
                c.next_log_at = later(c.next_log_at, s.logs[c.log_index].delay)
        if c.ready_at is not None and now >= c.ready_at:
            c.ready = True
        probe = c.spec.get("readinessProbe")
        if probe and not c.ready and c.next_unhealthy and now >= c.next_unhealthy:
            self._cevent(pod, c, "Unhealthy", self._probe_message(probe, rt), warning=True)
            c.next_unhealthy = later(now, self.opt.probe_period)
        logs_done = c.log_index >= len(s.logs)
        if s.wait_for_job or s.wait_until:
            if not logs_done:
                return False
            if not self._gate_open(pod, c):
                return False
        elif c.end_at is None or now < c.end_at or not logs_done:
            return False
        self._terminate(pod, c, now)
        restart = (policy == "Always" and not c.init) or (
            policy in ("Always", "OnFailure") and c.exit_code != 0
        )
        if not restart:
            c.stage = "exited"
            return False
        if c.restart_count == 0:
            c.stage, c.due = "restarting", later(now, self.opt.start_seconds)
        else:
            delay = backoff(self.opt.crash_backoff, self.opt.crash_backoff_max, c.restart_count)
            c.stage, c.due = "crash_backoff", later(now, delay)
            c.last_state, c.terminated = c.terminated, None
            c.waiting = (
                "CrashLoopBackOff",
                f"back-off {int(delay) if delay >= 1 else delay}s restarting failed "
                f"container={c.name} pod={meta['name']}_{meta.get('namespace')}({meta['uid']})",
            )
            self._cevent(
                pod,
                c,
                "BackOff",
                f"Back-off restarting failed container {c.name} in pod "
                f"{meta['name']}_{meta.get('namespace')}({meta['uid']})",
                warning=True,
            )
        return False

    def _gate_open(self, pod: dict, c: Ctr) -> bool:
        meta = pod["metadata"]
        ns = meta.get("namespace", "")
        s = c.script
        if s.wait_for_job:
            if not c.waited_logged and not s.logs:
                self.store.logs.append(ns, meta["name"], c.name, f"Waiting for job {s.wait_for_job}...")
                c.waited_logged = True
            job = self.store.get("batch/jobs", ns, s.wait_for_job)
            done = job is not None and condition_true(job, "Complete")
            if done and not s.logs:
                self.store.logs.append(ns, meta["name"], c.name, f"job {s.wait_for_job} is complete")
            return done
        gate = s.wait_until
        assert gate is not None
        if not c.waited_logged and not s.logs:
            self.store.logs.append(
                ns,
                meta["name"],
                c.name,
                f"waiting until {gate.kind.lower()} {gate.name} has {gate.key}={gate.equals}",
            )
            c.waited_logged = True
        obj = self.store.get("/configmaps" if gate.kind == "ConfigMap" else "/secrets", ns, gate.name)
        value = ((obj or {}).get("data") or {}).get(gate.key)
        if value is not None and gate.kind == "Secret":
            value = base64.b64decode(value).decode(errors="replace")
        return value == gate.equals

    @staticmethod
    def _probe_message(probe: dict, rt: PodRt) -> str:
        if "httpGet" in probe:
            return "Readiness probe failed: HTTP probe failed with statuscode: 503"
        if "tcpSocket" in probe:
            port = probe["tcpSocket"].get("port")
            return f"Readiness probe failed: dial tcp {rt.ip}:{port}: connect: connection refused"
        return "Readiness probe failed: "

    def _terminate(self, pod: dict, c: Ctr, now: datetime, *, exit_code: int | None = None) -> None:
        code = c.exit_code if exit_code is None else exit_code
        reason = (
            "OOMKilled"
            if (c.script.oom and exit_code is None and code)
            else ("Completed" if code == 0 else "Error")
        )
        c.terminated = {
            "exitCode": code,
            "reason": reason,
            "startedAt": ts(c.started_at or now),
            "finishedAt": ts(now),
            "containerID": c.container_id,
        }
        c.exit_code, c.ready = code, False

    def _restart(self, pod: dict, c: Ctr) -> None:
        meta = pod["metadata"]
        if c.terminated:
            c.last_state = c.terminated
        c.terminated = None
        c.restart_count += 1
        self.store.logs.restart(meta.get("namespace", ""), meta["name"], c.name)
        c.stage, c.due = "pending", None

    # ---- deletion ------------------------------------------------------------------------------------------

    def _stop(self, pod: dict, rt: PodRt, now: datetime) -> None:
        meta = pod["metadata"]
        if not rt.scheduled:
            self._remove(pod)
            return
        if rt.killing_since is None:
            rt.killing_since = now
            job_like = (pod.get("spec") or {}).get("restartPolicy", "Always") != "Always"
            for c in rt.inits + rt.ctrs:
                if c.stage == "running":
                    self._cevent(pod, c, "Killing", f"Stopping container {c.name}")
                    self._terminate(pod, c, now, exit_code=143 if job_like else 0)
                    c.stage = "exited"
                elif c.stage != "exited":
                    c.stage = "exited" if c.terminated else "killed"
            self._write_status(pod, rt, now, stopping=True)
        if (now - rt.killing_since).total_seconds() >= self.opt.stop_seconds:
            self._remove(pod)
            self.pods.pop(meta["uid"], None)

    def _remove(self, pod: dict) -> None:
        meta = pod["metadata"]
        with contextlib.suppress(ApiError):
            self.store.delete("/pods", meta.get("namespace"), meta["name"], grace_seconds=0)

    # ---- status --------------------------------------------------------------------------------------------

    def _ctr_status(self, c: Ctr, rt: PodRt) -> dict:
        if c.stage == "running":
            state: dict = {"running": {"startedAt": ts(c.started_at or self.clock.now())}}
        elif c.terminated is not None and c.stage in ("exited", "restarting"):
            state = {"terminated": dict(c.terminated)}
        else:
            reason, message = c.waiting
            state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        image = normalize_image(c.image)
        out = {
            "name": c.name,
            "image": image,
            "imageID": (image.split(":")[0] if "@" not in image else image.split("@")[0])
            + "@sha256:"
            + hashlib.sha256(c.image.encode()).hexdigest()
            if c.pulled
            else "",
            "ready": c.done_ok if c.init else c.ready,  # a completed init container counts as ready
            "started": c.stage == "running",
            "restartCount": c.restart_count,
            "state": state,
            "lastState": {"terminated": dict(c.last_state)} if c.last_state else {},
        }
        if c.container_id:
            out["containerID"] = c.container_id
        return out

    def _phase(self, pod: dict, rt: PodRt, policy: str) -> str:
        if not rt.scheduled:
            return "Pending"
        if self._init_failed(rt, policy):
            return "Failed"
        if rt.killing_since is not None and all(c.stage in ("exited", "killed") for c in rt.ctrs):
            ran = [c for c in rt.ctrs if c.terminated]
            return "Succeeded" if ran and all(c.exit_code == 0 for c in ran) else "Failed"
        if not all(c.done_ok for c in rt.inits):
            return "Pending"
        if rt.ctrs and all(c.stage == "exited" for c in rt.ctrs):
            return "Succeeded" if all(c.exit_code == 0 for c in rt.ctrs) else "Failed"
        if any(c.restart_count == 0 and c.stage not in ("running", "exited", "restarting") for c in rt.ctrs):
            return "Pending"
        return "Running"

    def _write_status(self, pod: dict, rt: PodRt, now: datetime, *, stopping: bool = False) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        policy = spec.get("restartPolicy", "Always")
        phase = self._phase(pod, rt, policy)
        old = pod.get("status") or {}
        status: dict = {"conditions": [dict(c) for c in old.get("conditions") or []]}
        terminal = phase in ("Succeeded", "Failed")
        set_condition(
            status,
            "PodReadyToStartContainers",
            "True" if rt.mounted and not terminal else "False",
            "",
            "",
            now,
        )
        # reasons as the kubelet's pkg/kubelet/status/generate.go: PodCompleted only once the pod Succeeded,
        # PodFailed on Failed pods, none while Initialized / Ready are simply True
        pending_inits = [c.name for c in rt.inits if not c.done_ok]
        regular_started = any(c.runs for c in rt.ctrs)
        if phase == "Succeeded":
            set_condition(status, "Initialized", "True", "PodCompleted", "", now)
        elif pending_inits and not regular_started:
            set_condition(
                status,
                "Initialized",
                "False",
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(pending_inits)}]",
                now,
            )
        else:
            set_condition(status, "Initialized", "True", "", "", now)
        unready = [c.name for c in rt.ctrs if not c.ready]
        if terminal:
            for ctype in ("Ready", "ContainersReady"):
                set_condition(
                    status, ctype, "False", "PodCompleted" if phase == "Succeeded" else "PodFailed", "", now
                )
        elif unready:
            for ctype in ("Ready", "ContainersReady"):
                set_condition(
                    status,
                    ctype,
                    "False",
                    "ContainersNotReady",
                    f"containers with unready status: [{' '.join(unready)}]",
                    now,
                )
        else:
            for ctype in ("Ready", "ContainersReady"):
                set_condition(status, ctype, "True", "", "", now)
        set_condition(status, "PodScheduled", "True", "", "", now)
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        status["conditions"] = sorted(
            [
                {k: v for k, v in c.items() if v != "" or k in ("type", "status")}
                for c in status["conditions"]
            ],
            key=lambda c: order.index(c["type"]) if c["type"] in order else 99,
        )
        host_ip = f"172.18.0.{2 + self._node_index(rt.node)}"
        status.update(
            phase=phase,
            hostIP=host_ip,
            hostIPs=[{"ip": host_ip}],
            startTime=ts(rt.start_time or now),
            qosClass=_qos_class(spec),
        )
        if rt.ip:
            status.update(podIP=rt.ip, podIPs=[{"ip": rt.ip}])
        if rt.inits:
            status["initContainerStatuses"] = [self._ctr_status(c, rt) for c in rt.inits]
        status["containerStatuses"] = [self._ctr_status(c, rt) for c in rt.ctrs]

        def write(p: dict) -> None:
            p["status"] = status

        self.store.mutate("/pods", meta.get("namespace"), meta["name"], write, subresource="status")


def _qos_class(spec: dict) -> str:
    ctrs = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    requests_any, guaranteed = False, bool(ctrs)
    for c in ctrs:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            requests_any = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and req[r] != lim[r]):
                guaranteed = False
    if guaranteed and requests_any:
        return "Guaranteed"
    return "Burstable" if requests_any else "BestEffort"
