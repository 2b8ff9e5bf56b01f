"""What a reader of fleets and spot requests sees: DescribeFleets, DescribeSpotFleetRequests,
DescribeSpotInstanceRequests and AWS Batch DescribeComputeEnvironments, paged as the services page them.

moto 5.2.5 answers each of them in one page whatever MaxResults says, and besides:

- DescribeFleets ignores Filters and lists fleets of type ``instant``, which EC2 lists only when their id is asked;
- DescribeSpotFleetRequests reports a request made with LaunchTemplateConfigs as LaunchSpecifications resolved from
  the template's latest version, and no LaunchTemplateConfigs: the template, its version and its overrides are lost.

Left as moto has them (not what a reader relies on): RequestSpotFleet requires AllocationStrategy (EC2 defaults
it), CancelSpotInstanceRequests forgets a request at once (EC2 lists it ``cancelled`` for a while), and the
DescribeSpotInstanceRequests filter ``launch.image-id`` is not implemented (moto refuses it).
"""

from __future__ import annotations

import copy
import inspect
import json
from typing import Any

from moto.batch.exceptions import ClientException
from moto.batch.responses import BatchResponse
from moto.core.responses import ActionResult
from moto.ec2.exceptions import FilterNotImplementedError
from moto.ec2.models.spot_requests import SpotFleetRequest, SpotRequestBackend
from moto.ec2.responses.fleets import Fleets
from moto.ec2.responses.spot_fleets import SpotFleets
from moto.ec2.responses.spot_instances import SpotInstances

from ._common import LOCK, MOTO
from .pagination import max_results_in_range, page

# EC2 returns at most 1,000 per page. Spot fleet requests: MaxResults 1 to 1,000, default 1,000; spot instance
# requests: 5 to 1,000 (What's New, January 2019). DescribeFleets documents no range: taken as 1 to 1,000.
_PAGE_LIMIT = 1000
_FLEETS_RANGE, _SPOT_FLEETS_RANGE, _SPOT_REQUESTS_RANGE = (1, 1000), (1, 1000), (5, 1000)
# AWS Batch DescribeComputeEnvironments: maxResults 1 to 100; without it, up to 100 and a nextToken.
_BATCH_RANGE = (1, 100)


def install() -> None:
    MOTO.update(
        describe_fleets=Fleets.describe_fleets,
        describe_spot_fleet_requests=SpotFleets.describe_spot_fleet_requests,
        describe_spot_instance_requests=SpotInstances.describe_spot_instance_requests,
        request_spot_fleet=SpotRequestBackend.request_spot_fleet,
        spot_fleet_request_config=SpotFleetRequest.spot_fleet_request_config,
        describecomputeenvironments=BatchResponse.describecomputeenvironments,
    )
    Fleets.describe_fleets = _describe_fleets_action  # type: ignore[method-assign]
    SpotFleets.describe_spot_fleet_requests = _describe_spot_fleet_requests_action  # type: ignore[method-assign]
    SpotInstances.describe_spot_instance_requests = _describe_spot_instance_requests_action  # type: ignore[method-assign]
    SpotRequestBackend.request_spot_fleet = _request_spot_fleet  # type: ignore[method-assign]
    SpotFleetRequest.spot_fleet_request_config = property(_spot_fleet_request_config)  # type: ignore[method-assign,assignment]
    BatchResponse.describecomputeenvironments = _describe_compute_environments_action  # type: ignore[method-assign]


# --- EC2 Fleet ------------------------------------------------------------------------------------------------


def _describe_fleets_action(self: Fleets) -> ActionResult:
    """FleetIds, Filters fleet-state and type, MaxResults/NextToken; an instant fleet only when its id is asked.

    The fleet-state filter takes EC2's documented hyphenated values (``deleted-running``) and also the FleetState
    spelling (``deleted_running``).
    """
    fleet_ids: list[str] = self._get_param("FleetIds", [])
    filters: dict[str, Any] = self._filters_from_querystring()  # moto annotates str values; they are lists
    max_results = max_results_in_range(self._get_param("MaxResults"), *_FLEETS_RANGE, clamp=True)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        fleets = backend.describe_fleets(fleet_ids)
        return [
            f.id
            for f in fleets
            if (f.type != "instant" or f.id in fleet_ids)
            and all(_fleet_matches(f, name, values) for name, values in filters.items())
        ]

    keys, token = page(backend, "DescribeFleets", next_token, max_results or _PAGE_LIMIT, select)
    fleets = [fleet for fleet in map(backend.fleets.get, keys) if fleet is not None]
    return ActionResult({"Fleets": fleets, "NextToken": token})


def _fleet_matches(fleet: Any, name: str, values: list[str]) -> bool:
    if name == "fleet-state":
        return fleet.state.replace("_", "-") in {v.replace("_", "-") for v in values}
    if name == "type":
        return fleet.type in values
    raise FilterNotImplementedError(name, "DescribeFleets")


# --- Spot Fleet -----------------------------------------------------------------------------------------------


def _request_spot_fleet(self: SpotRequestBackend, *args: Any, **kwargs: Any) -> SpotFleetRequest:
    """moto's request, remembering the LaunchSpecifications and LaunchTemplateConfigs as they were given."""
    given = inspect.signature(MOTO["request_spot_fleet"]).bind(self, *args, **kwargs).arguments
    request: SpotFleetRequest = MOTO["request_spot_fleet"](self, *args, **kwargs)
    request.fidelity_launch_spec_count = len(given.get("launch_specs") or [])  # type: ignore[attr-defined]
    configs = copy.deepcopy(given.get("launch_template_config") or [])
    request.fidelity_launch_template_configs = configs  # type: ignore[attr-defined]
    return request


def _spot_fleet_request_config(self: SpotFleetRequest) -> dict[str, Any]:
    """SpotFleetRequestConfig: the LaunchSpecifications given, and the LaunchTemplateConfigs given (template,
    version and overrides), instead of specifications moto derived from each template's latest version."""
    config: dict[str, Any] = MOTO["spot_fleet_request_config"].fget(self)
    configs: list[dict[str, Any]] | None = getattr(self, "fidelity_launch_template_configs", None)
    if configs is None:
        return config  # requested before the layer was installed
    count: int = getattr(self, "fidelity_launch_spec_count", 0)
    if count:
        config["LaunchSpecifications"] = self.launch_specs[:count]
    else:
        config.pop("LaunchSpecifications", None)
    if configs:
        config["LaunchTemplateConfigs"] = configs
    return config


def _describe_spot_fleet_requests_action(self: SpotFleets) -> ActionResult:
    """SpotFleetRequestIds, MaxResults (1 to 1,000, default 1,000) and NextToken."""
    request_ids: list[str] = self._get_param("SpotFleetRequestIds", [])
    max_results = max_results_in_range(self._get_param("MaxResults"), *_SPOT_FLEETS_RANGE)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        return [r.id for r in backend.describe_spot_fleet_requests(request_ids)]

    keys, token = page(backend, "DescribeSpotFleetRequests", next_token, max_results or _PAGE_LIMIT, select)
    requests = [r for r in map(backend.spot_fleet_requests.get, keys) if r is not None]
    return ActionResult({"SpotFleetRequestConfigs": requests, "NextToken": token})


# --- Spot Instance requests -----------------------------------------------------------------------------------


def _describe_spot_instance_requests_action(self: SpotInstances) -> ActionResult:
    """moto's selection (SpotInstanceRequestIds, Filters), then MaxResults (5 to 1,000) and NextToken."""
    request_ids: list[str] = self._get_param("SpotInstanceRequestIds", [])
    filters = self._filters_from_querystring()
    max_results = max_results_in_range(self._get_param("MaxResults"), *_SPOT_REQUESTS_RANGE)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        return [r.id for r in backend.describe_spot_instance_requests(filters=filters, spot_instance_ids=request_ids)]

    keys, token = page(backend, "DescribeSpotInstanceRequests", next_token, max_results or _PAGE_LIMIT, select)
    requests = [r for r in map(backend.spot_instance_requests.get, keys) if r is not None]
    return ActionResult({"SpotInstanceRequests": requests, "NextToken": token})


# --- AWS Batch ------------------------------------------------------------------------------------------------


def _describe_compute_environments_action(self: BatchResponse) -> str:
    """computeEnvironments (names or ARNs), maxResults (1 to 100; without it 100) and nextToken.

    Batch answers ClientException for a request it refuses; the messages are ours.
    """
    names: list[str] | None = self._get_param("computeEnvironments")
    max_results: int | None = self._get_param("maxResults")
    next_token: str | None = self._get_param("nextToken")
    low, high = _BATCH_RANGE
    if max_results is not None and not low <= max_results <= high:
        raise ClientException(f"maxResults must be between {low} and {high}.")
    backend = self.batch_backend

    def select() -> list[str]:
        return [e["computeEnvironmentArn"] for e in backend.describe_compute_environments(names)]

    def invalid_token(token: str) -> Exception:
        return ClientException(f"The nextToken '{token}' is not valid or has expired.")

    with LOCK:
        keys, token = page(
            backend, "DescribeComputeEnvironments", next_token, max_results or high, select, invalid_token
        )
        by_arn = {e["computeEnvironmentArn"]: e for e in backend.describe_compute_environments(keys)}
    result: dict[str, Any] = {"computeEnvironments": [by_arn[k] for k in keys if k in by_arn]}
    if token:
        result["nextToken"] = token
    return json.dumps(result)
