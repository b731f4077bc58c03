"""One error root and one mapper: what the CLI, Slack and logs show for each error helmbot raises."""

from __future__ import annotations

import pytest

from bot.cli.errors import UsageError
from bot.core.releases import ReleaseDecodeError, decode_release_secret
from bot.errors import EXIT_INTERNAL, EXIT_USAGE, MESSAGE_LIMIT, HelmbotError, describe_error, exit_code_for
from bot.helm import HelmArgsError, HelmError, HelmNotFound, ValuesPolicy
from bot.kube.errors import (
    ApiConnectionError,
    Forbidden,
    KubeConfigError,
    KubeError,
    NotFound,
    Unauthorized,
    error_from_status,
)
from bot.kube.releases import ReleaseUnreadable


def test_every_error_people_see_has_the_one_root_and_keeps_its_standard_base() -> None:
    for cls in (KubeError, KubeConfigError, ApiConnectionError, Forbidden, ReleaseUnreadable, HelmError,
                HelmNotFound, HelmArgsError, ReleaseDecodeError, UsageError):
        assert issubclass(cls, HelmbotError), cls
    # callers catch these by their standard bases today
    assert issubclass(ReleaseDecodeError, ValueError)
    assert issubclass(HelmArgsError, ValueError)
    assert issubclass(HelmError, RuntimeError)


def test_api_errors_say_what_was_refused_and_where() -> None:
    forbidden = error_from_status(403, b'{"reason": "Forbidden", "message": "secrets is forbidden"}',
                                  namespace="shop")
    assert describe_error(forbidden) == "forbidden (403) in namespace shop: secrets is forbidden"
    assert describe_error(error_from_status(403, b"")) == "forbidden (403)"   # a cluster-wide request
    assert describe_error(error_from_status(401, b"")) == (
        "unauthorized (401): the API server rejected our credentials; check the kubeconfig user/token")
    missing = error_from_status(404, b'{"message": "pods \\"x\\" not found"}', namespace="shop")
    assert isinstance(missing, NotFound)
    assert describe_error(missing) == 'Kubernetes API error 404 NotFound: pods "x" not found'
    assert describe_error(ApiConnectionError("cannot reach the API server at https://k: refused")) == (
        "cannot reach the API server at https://k: refused")
    assert all(exit_code_for(e) == EXIT_USAGE for e in (forbidden, missing, Unauthorized(401, "x", "")))


def test_release_decode_errors_name_the_record_never_its_contents() -> None:
    secret = {"metadata": {"name": "sh.helm.release.v1.shop.v3", "namespace": "shop"},
              "data": {"release": "bm90LWd6aXA="}}   # base64 of "not-gzip"
    with pytest.raises(ReleaseDecodeError) as caught:
        decode_release_secret(secret)
    text = describe_error(caught.value)
    assert text.startswith("release secret shop/sh.helm.release.v1.shop.v3")
    assert "not-gzip" not in text and exit_code_for(caught.value) == EXIT_USAGE


def test_helm_errors_keep_helms_own_line() -> None:
    error = HelmError("UPGRADE FAILED: context deadline exceeded", argv=["helm", "upgrade", "shop"])
    assert describe_error(error) == "helm upgrade failed: UPGRADE FAILED: context deadline exceeded"
    with pytest.raises(HelmArgsError) as caught:
        ValuesPolicy(keys=("image.tag",)).check_key("db.password")
    assert describe_error(caught.value) == "value key 'db.password' is not in the allow-list"


def test_messages_are_one_bounded_line() -> None:
    text = describe_error(UsageError("--timeout: bad\nsecond line " + "x" * 500))
    assert "\n" not in text and text.startswith("--timeout: bad / second line")
    assert len(text) <= MESSAGE_LIMIT and text.endswith("…")


def test_anything_else_is_a_bug_named_by_type_its_text_only_where_asked() -> None:
    bug = RuntimeError("token=abc\nsecond line")
    assert describe_error(bug) == "internal error: RuntimeError (a helmbot bug; please report it)"
    assert describe_error(bug, internal_detail=True) == (
        "internal error: RuntimeError: token=abc / second line (a helmbot bug; please report it)")
    assert exit_code_for(bug) == EXIT_INTERNAL
