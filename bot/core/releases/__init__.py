"""Helm release storage (Secret ``sh.helm.release.v1.NAME.vN``) decoded into typed, frozen objects.

`records` holds the types, `storage` the Secret encoding and which revision to decode, `decoding` the
release JSON, `manifest` the chart's YAML. The chart's values and the user-supplied ``config`` can hold
secrets: they are never kept on a ``Release`` and never quoted in an error.
"""

from bot.core.releases.decoding import decode_release_json
from bot.core.releases.manifest import parse_manifest
from bot.core.releases.records import (
    SECRET_TYPE,
    SYSTEM_LABELS,
    Hook,
    HookPhase,
    HookRun,
    Release,
    ReleaseDecodeError,
    ReleaseStatus,
    SecretMeta,
    release_secret_name,
)
from bot.core.releases.storage import (
    decode_release_payload,
    decode_release_secret,
    encode_release_payload,
    latest_revision,
    pick_release,
    secret_meta,
    secret_revision,
)

__all__ = [
    "SECRET_TYPE",
    "SYSTEM_LABELS",
    "Hook",
    "HookPhase",
    "HookRun",
    "Release",
    "ReleaseDecodeError",
    "ReleaseStatus",
    "SecretMeta",
    "decode_release_json",
    "decode_release_payload",
    "decode_release_secret",
    "encode_release_payload",
    "latest_revision",
    "parse_manifest",
    "pick_release",
    "release_secret_name",
    "secret_meta",
    "secret_revision",
]
