"""Fixtures for the kube adapter tests: a JSON client on the session's stand-in, with its own counter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.kube.client import KubeClient, RequestCounter, new_client


@pytest.fixture
def client(sim: Any) -> Iterator[KubeClient]:
    kube = new_client(str(sim.kubeconfig), counter=RequestCounter())
    yield kube
    kube.close()
