"""Reading the policy document: YAML in, a validated Policy out, or a PolicyError naming the field."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from .document import POLICY_FILE_ENV, Policy, PolicyError


def parse_policy(document: str, origin: str = "policy") -> Policy:
    """Validate a YAML policy document; PolicyError names the first bad field."""
    try:
        data = yaml.safe_load(document)
    except yaml.YAMLError as e:
        raise PolicyError(f"{origin}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise PolicyError(f"{origin}: the document must be a mapping, got {type(data).__name__}")
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}" for err in e.errors()
        )
        raise PolicyError(f"{origin}: invalid policy: {problems}") from e


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> Policy:
    return parse_policy(Path(path).read_text(encoding="utf-8"), origin=path)


def load_policy(path: str | None = None) -> Policy:
    """Load the policy named by POLICY_FILE (cached while the file is unchanged)."""
    path = path or os.environ.get(POLICY_FILE_ENV)
    if not path:
        raise PolicyError(f"no policy: set {POLICY_FILE_ENV} to the path of the policy document")
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as e:
        raise PolicyError(f"{path}: cannot read the policy document: {e.strerror}") from e
    return _load(path, mtime)


def json_schema() -> dict[str, object]:
    """The policy document's JSON Schema (published as schema/policy.schema.json for editors and CI)."""
    schema = Policy.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "AMI lifecycle policy"
    return schema


PARAMETER_PATH_PREFIX_ENV = "PARAMETER_PATH_PREFIX"
DEFAULT_PARAMETER_PATH_PREFIX = "/ami-lifecycle/"


def check_parameter_path(policy: Policy, prefix: str | None = None) -> None:
    """The functions may write parameters only under the stack's prefix (IAM says so too): a policy path outside
    it is refused before any AWS call, naming both."""
    prefix = prefix or os.environ.get(PARAMETER_PATH_PREFIX_ENV) or DEFAULT_PARAMETER_PATH_PREFIX
    if not policy.parameters.publish:
        return
    if not prefix.startswith("/") or not prefix.endswith("/"):
        raise PolicyError(f"{PARAMETER_PATH_PREFIX_ENV} {prefix!r} must begin and end with /")
    if not policy.parameters.path.startswith(prefix):
        raise PolicyError(
            f"parameters.path {policy.parameters.path!r} is not under the stack's parameter path prefix {prefix!r} "
            f"(template parameter ParameterPathPrefix): the functions may only write parameters under it"
        )
