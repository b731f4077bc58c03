"""Where the API server is and how to authenticate: kubeconfig (explicit, $KUBECONFIG, ~/.kube/config), then
in-cluster. Every failure becomes a one-line `KubeConfigError`, never a library traceback."""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes.client import Configuration
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_HOST_ENV_NAME, load_incluster_config
from kubernetes.config.kube_config import list_kube_config_contexts, load_kube_config

from bot.kube.errors import KubeConfigError


def default_kubeconfig_paths() -> list[Path]:
    """$KUBECONFIG (a path list, like kubectl) or ~/.kube/config; only files that exist."""
    env = os.environ.get("KUBECONFIG", "")
    candidates = [Path(p).expanduser() for p in env.split(os.pathsep) if p] if env else [
        Path("~/.kube/config").expanduser()]
    return [p for p in candidates if p.is_file()]


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> Configuration:
    """Explicit path > $KUBECONFIG / ~/.kube/config > in-cluster service account."""
    configuration = Configuration()
    if kubeconfig is not None:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise KubeConfigError(f"kubeconfig {kubeconfig} does not exist")
        _load_file(path, context, configuration)
    else:
        paths = default_kubeconfig_paths()
        if paths:
            # The python client reads one file; the first one holds the current context in practice.
            _load_file(paths[0], context, configuration)
        elif os.environ.get(SERVICE_HOST_ENV_NAME):
            if context:
                raise KubeConfigError(f"--context {context} needs a kubeconfig, but none was found")
            try:
                load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise KubeConfigError(f"in-cluster configuration failed: {exc}") from None
        else:
            raise KubeConfigError(
                "no kubeconfig found (pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config) "
                "and not running inside a cluster")
    # Retries are ours (informer back-off with jitter), not urllib3's silent ones.
    configuration.retries = False
    return configuration


def _load_file(path: Path, context: str | None, configuration: Configuration) -> None:
    try:
        load_kube_config(config_file=str(path), context=context, client_configuration=configuration,
                         persist_config=False)
    except ConfigException as exc:
        raise KubeConfigError(f"bad kubeconfig {path}: {_first_line(exc)}") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # A YAML file that is not a kubeconfig surfaces as assorted lookup errors inside the loader.
        raise KubeConfigError(f"bad kubeconfig {path}: {type(exc).__name__}: {_first_line(exc)}") from None
    except Exception as exc:  # yaml.YAMLError and friends
        raise KubeConfigError(f"bad kubeconfig {path}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def default_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace helm would use: $HELM_NAMESPACE, the context's namespace, in-cluster, "default"."""
    from_env = os.environ.get("HELM_NAMESPACE")
    if from_env:
        return from_env
    paths = [Path(kubeconfig).expanduser()] if kubeconfig is not None else default_kubeconfig_paths()
    if paths and paths[0].is_file():
        try:
            contexts, active = list_kube_config_contexts(config_file=str(paths[0]))
        except Exception:  # a bad kubeconfig is reported by load_configuration, with its reason
            return "default"
        chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
        namespace = ((chosen or {}).get("context") or {}).get("namespace")
        return str(namespace) if namespace else "default"
    if IN_CLUSTER_NAMESPACE.is_file():
        return IN_CLUSTER_NAMESPACE.read_text().strip() or "default"
    return "default"
