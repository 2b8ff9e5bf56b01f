"""The events the product subscribes to, as pydantic models (Powertools Parser envelopes)."""

from __future__ import annotations

from typing import Any, Literal, cast

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..policy import REGION_PATTERN

IMAGE_ID_PATTERN = r"^ami-[0-9a-f]{8,17}$"
INSTANCE_ID_PATTERN = r"^i-[0-9a-f]{8,17}$"


class InvalidEventError(ValueError):
    """The event is not one this function can handle; the message says which field is wrong."""


class AmiStateChangeDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    image_id: str = Field(alias="ImageId", pattern=IMAGE_ID_PATTERN)
    state: str = Field(alias="State", min_length=1)
    request_id: str | None = Field(default=None, alias="RequestId")
    error_message: str | None = Field(default=None, alias="ErrorMessage")


class AmiStateChangeEvent(EventBridgeModel):
    """ "EC2 AMI State Change" from source aws.ec2. The region is where the image lives."""

    source: Literal["aws.ec2"]
    detail_type: Literal["EC2 AMI State Change"] = Field(alias="detail-type")
    region: str = Field(pattern=REGION_PATTERN)
    account: str = Field(pattern=r"^\d{12}$")
    detail: AmiStateChangeDetail


class InstanceStateChangeDetail(BaseModel):
    instance_id: str = Field(alias="instance-id", pattern=INSTANCE_ID_PATTERN)
    state: str = Field(min_length=1)


class InstanceStateChangeEvent(EventBridgeModel):
    """ "EC2 Instance State-change Notification": carries no image id, DescribeInstances has it."""

    source: Literal["aws.ec2"]
    detail_type: Literal["EC2 Instance State-change Notification"] = Field(alias="detail-type")
    region: str = Field(pattern=REGION_PATTERN)
    account: str = Field(pattern=r"^\d{12}$")
    detail: InstanceStateChangeDetail


def parse_ami_state_change(event: Any) -> AmiStateChangeEvent:
    """Validate a raw event; InvalidEventError lists every bad field."""
    return cast(AmiStateChangeEvent, _parse(event, AmiStateChangeEvent))


def parse_instance_state_change(event: Any) -> InstanceStateChangeEvent:
    return cast(InstanceStateChangeEvent, _parse(event, InstanceStateChangeEvent))


def _parse(event: Any, model: type[EventBridgeModel]) -> EventBridgeModel:
    try:
        return parse(event=event, model=model)
    except ValidationError as e:
        raise InvalidEventError(_describe(e)) from e
    except Exception as e:  # Powertools wraps non-dict input in its own error types
        cause = e.__cause__ if isinstance(e.__cause__, ValidationError) else None
        raise InvalidEventError(_describe(cause) if cause else f"not an EventBridge event: {e}") from e


def _describe(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}" for err in error.errors())
