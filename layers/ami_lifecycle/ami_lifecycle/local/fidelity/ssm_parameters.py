"""SSM parameters: ``aws:ec2:image`` values validated after PutParameter returns; DescribeParameters paging.

What SSM documents (PutParameter, "DataType"; "Parameter data types in Parameter Store"; "Native parameter
support in Parameter Store for Amazon Machine Image IDs"):

- For ``aws:ec2:image`` the value must be an AMI id, in the required format, of an AMI that is available in the
  caller's account (in the parameter's region). The check is asynchronous: PutParameter returns HTTP 200 and a
  version whatever the value, and when the check fails "the parameter will not be created or updated". moto
  accepts any value; here a value EC2 would refuse is answered like any other PutParameter, and then not
  applied: a new parameter does not appear, an existing one keeps its value and version. Each refusal is
  recorded (``parameter_validation_failures()``), standing in for the "Parameter Store Change" event that
  reports it. The validation runs as soon as the call returns (time does not pass in moto).
- A parameter cannot be changed to or from ``aws:ec2:image`` (nor ``aws:ssm:integration``): an overwrite that
  asks for another type is refused with a ValidationException (the message is ours); one that gives no type
  keeps the parameter's (moto's request parsing cannot tell "text" from no type, so "text" counts as none for
  an ``aws:ec2:image`` parameter).

- DescribeParameters ``MaxResults`` (1 to 50, API reference): moto pages by 10 whatever is asked.

moto already refuses Tags together with Overwrite, as SSM does. Left out: the image of another account
shared with the caller (moto models no cross-account sharing) and the ``aws:ssm:integration`` type.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.ssm.exceptions import ValidationException
from moto.ssm.models import SimpleSystemManagerBackend
from moto.ssm.responses import SimpleSystemManagerResponse

from ._common import LOCK, MOTO, existing_ec2_backends

IMAGE_DATA_TYPE = "aws:ec2:image"
_FIXED_TYPES = frozenset({IMAGE_DATA_TYPE, "aws:ssm:integration"})
_AMI_ID = re.compile(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$")


@dataclass(frozen=True)
class ValidationFailure:
    """A PutParameter that returned success and was then not applied."""

    region: str
    name: str
    value: str
    version: int
    reason: str


_failures: list[ValidationFailure] = []
_failures_lock = threading.Lock()


_DESCRIBE_PARAMETERS_MAX = 50


def install() -> None:
    MOTO["SimpleSystemManagerBackend.put_parameter"] = SimpleSystemManagerBackend.put_parameter
    SimpleSystemManagerBackend.put_parameter = _put_parameter  # type: ignore[method-assign]
    SimpleSystemManagerResponse.describe_parameters = _describe_parameters  # type: ignore[method-assign]


def _describe_parameters(self: SimpleSystemManagerResponse) -> ActionResult:
    """moto's listing, paged by MaxResults (default 10, at most 50) instead of always 10."""
    page_size = self._get_param("MaxResults") or 10
    if not 1 <= int(page_size) <= _DESCRIBE_PARAMETERS_MAX:
        raise ValidationException(
            f"1 validation error detected: Value '{page_size}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value less than or equal to {_DESCRIBE_PARAMETERS_MAX}"
        )
    start = int(str(self._get_param("NextToken") or "0").strip() or "0")
    found = self.ssm_backend.describe_parameters(self._get_param("Filters"), self._get_param("ParameterFilters"))
    page = found[start : start + int(page_size)]
    response: dict[str, Any] = {"Parameters": [p.describe_response_object(False) for p in page]}
    if start + int(page_size) < len(found):
        response["NextToken"] = str(start + int(page_size))
    return ActionResult(response)


def parameter_validation_failures(clear: bool = False) -> list[ValidationFailure]:
    """The aws:ec2:image values refused since the last clear, oldest first."""
    with _failures_lock:
        found = list(_failures)
        if clear:
            _failures.clear()
    return found


def _put_parameter(self: SimpleSystemManagerBackend, *args: Any, **kwargs: Any) -> Any:
    name, value, overwrite, data_type = _arguments(args, kwargs)
    with LOCK:
        previous = self.get_parameter(name) if overwrite else None
        if previous is not None and previous.data_type == IMAGE_DATA_TYPE and data_type in (None, "text"):
            # moto's request parsing turns an omitted DataType into "text"; an update keeps the parameter's type
            args, kwargs = _with_data_type(args, kwargs, IMAGE_DATA_TYPE)
        elif (
            previous is not None
            and data_type not in (None, previous.data_type)
            and {data_type, previous.data_type} & _FIXED_TYPES
        ):
            raise ValidationException(
                f"Parameter {name} has data type {previous.data_type}; a parameter cannot be changed to or "
                f"from {IMAGE_DATA_TYPE}."
            )
        # SSM's own checks (name, type, Tags with Overwrite, ParameterAlreadyExists) answer first, synchronously.
        parameter = MOTO["SimpleSystemManagerBackend.put_parameter"](self, *args, **kwargs)
        if parameter.data_type != IMAGE_DATA_TYPE:
            return parameter
        reason = _image_refused(self.account_id, self.region_name, value)
        if reason is None:
            return parameter
        _undo(self, name)
    with _failures_lock:
        _failures.append(ValidationFailure(self.region_name, name, value, parameter.version, reason))
    return parameter


def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str, bool, str | None]:
    """moto's put_parameter(name, description, value, type, allowed_pattern, keyid, overwrite, tags, data_type)."""
    names = ("name", "description", "value", "parameter_type", "allowed_pattern", "keyid", "overwrite", "tags")
    given = dict(zip(names, args, strict=False)) | kwargs
    data_type = args[8] if len(args) > 8 else kwargs.get("data_type")
    return given["name"], given["value"], bool(given.get("overwrite")), data_type


def _with_data_type(
    args: tuple[Any, ...], kwargs: dict[str, Any], data_type: str
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if len(args) > 8:
        return (*args[:8], data_type, *args[9:]), kwargs
    return args, kwargs | {"data_type": data_type}


def _image_refused(account_id: str, region: str, value: str) -> str | None:
    """Why EC2 refuses this value for an aws:ec2:image parameter, or None."""
    if not _AMI_ID.match(value or ""):
        return f"{value!r} is not an AMI id"
    for backend in existing_ec2_backends(region, account_id):
        image = backend.amis.get(value)
        if image is None:
            continue
        state = getattr(image, "state", "available")
        return None if state == "available" else f"{value} is {state}, not available"
    return f"{value} does not exist in {region}"


def _undo(backend: SimpleSystemManagerBackend, name: str) -> None:
    """The version PutParameter reported is not applied: a new parameter disappears with its tags."""
    key = backend._parameters.normalize_name(name)
    versions = backend._parameters[key]
    versions.pop()
    if not versions:
        del backend._parameters[key]
        backend._resource_tags.get("Parameter", {}).pop(key, None)  # type: ignore[call-overload]
