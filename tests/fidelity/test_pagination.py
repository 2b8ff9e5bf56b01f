"""MaxResults/NextToken of the describe actions, through DescribeImages: every match exactly once across pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto.ec2.models import ec2_backends

from .conftest import ACCOUNT, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws


def register_images(aws: LocalAws, count: int, family: str = "web") -> list[str]:
    """``count`` AMIs (moto's default registration), tagged Family=<family> and Index=<n>."""
    ec2 = aws.ec2(HOME)
    return [
        ec2.register_image(
            Name=f"{family}-{i:03d}",
            TagSpecifications=[
                {
                    "ResourceType": "image",
                    "Tags": [{"Key": "Family", "Value": family}, {"Key": "Index", "Value": str(i)}],
                }
            ],
        )["ImageId"]
        for i in range(count)
    ]


def walk(ec2: Any, **params: Any) -> list[list[str]]:
    """The image ids of each page, following NextToken by hand."""
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        response = ec2.describe_images(**params, **({"NextToken": token} if token else {}))
        pages.append([i["ImageId"] for i in response["Images"]])
        token = response.get("NextToken")
        if not token:
            return pages


def test_max_results_pages_through_every_image_once(aws: LocalAws) -> None:
    """EC2 DescribeImages MaxResults: at most that many items per page, and a NextToken while more remain."""
    # Given 43 AMIs
    image_ids = register_images(aws, 43)
    # When the owner lists them 5 at a time
    pages = walk(aws.ec2(HOME), Owners=["self"], MaxResults=5)
    # Then there are 9 pages of at most 5, the last without NextToken, and every AMI comes back exactly once
    assert [len(p) for p in pages] == [5] * 8 + [3]
    listed = [i for page in pages for i in page]
    assert sorted(listed) == sorted(image_ids)


def test_paginator_walks_all_pages(aws: LocalAws) -> None:
    """EC2 pagination through boto3's describe_images paginator (PageSize is sent as MaxResults)."""
    # Given 41 AMIs
    image_ids = register_images(aws, 41)
    # When the paginator walks them 6 per page
    paginator = aws.ec2(HOME).get_paginator("describe_images")
    pages = list(paginator.paginate(Owners=["self"], PaginationConfig={"PageSize": 6}))
    # Then it makes 7 requests and sees every AMI once; without PageSize one response holds them all
    assert len(pages) == 7
    assert sorted(i["ImageId"] for p in pages for i in p["Images"]) == sorted(image_ids)
    unpaged = aws.ec2(HOME).describe_images(Owners=["self"])
    assert len(unpaged["Images"]) == 41
    assert "NextToken" not in unpaged


def test_pages_keep_the_filters_of_the_first_request(aws: LocalAws) -> None:
    """EC2 NextToken: pagination continues the previous request; its filters apply to every page."""
    # Given 24 AMIs of family web and 20 of family db
    web = register_images(aws, 24, "web")
    register_images(aws, 20, "db")
    # When the web family is listed 5 at a time by tag filter
    pages = walk(aws.ec2(HOME), Filters=[{"Name": "tag:Family", "Values": ["web"]}], MaxResults=5)
    # Then exactly the 24 web AMIs come back, each once, with their own tags
    listed = [i for page in pages for i in page]
    assert sorted(listed) == sorted(web)
    described = aws.ec2(HOME).describe_images(ImageIds=web[:3])["Images"]
    indexes = {i["ImageId"]: {t["Key"]: t["Value"] for t in i["Tags"]}["Index"] for i in described}
    assert indexes == {web[0]: "0", web[1]: "1", web[2]: "2"}


def test_image_deregistered_between_pages_is_left_out(aws: LocalAws) -> None:
    """EC2 pagination: an AMI deregistered while pages are read is not returned afterwards (and nothing twice)."""
    # Given 12 AMIs and a first page of 5
    image_ids = register_images(aws, 12)
    ec2 = aws.ec2(HOME)
    first = ec2.describe_images(Owners=["self"], MaxResults=5)
    # When an AMI not yet listed is deregistered and the rest is read
    remaining = [i for i in image_ids if i not in {x["ImageId"] for x in first["Images"]}]
    ec2.deregister_image(ImageId=remaining[0])
    rest = ec2.describe_images(Owners=["self"], MaxResults=1000, NextToken=first["NextToken"])
    # Then the remaining pages hold every other AMI once
    assert sorted(i["ImageId"] for i in rest["Images"]) == sorted(remaining[1:])
    assert "NextToken" not in rest


def test_a_token_can_be_used_again(aws: LocalAws) -> None:
    """EC2 NextToken: a retried request with the same token returns the same page."""
    # Given 11 AMIs and a first page of 5
    register_images(aws, 11)
    ec2 = aws.ec2(HOME)
    token = ec2.describe_images(Owners=["self"], MaxResults=5)["NextToken"]
    # When the second page is requested twice with that token
    once = ec2.describe_images(Owners=["self"], MaxResults=5, NextToken=token)
    twice = ec2.describe_images(Owners=["self"], MaxResults=5, NextToken=token)
    # Then both answers are the same page
    assert [i["ImageId"] for i in once["Images"]] == [i["ImageId"] for i in twice["Images"]]


@pytest.mark.parametrize("max_results", [4, 1001])
def test_max_results_outside_5_to_1000_is_refused(aws: LocalAws, max_results: int) -> None:
    """EC2 DescribeImages MaxResults: a value outside 5 to 1,000 is InvalidParameterValue."""
    # Given an AMI
    register_images(aws, 1)
    # When images are described with MaxResults out of range
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_images(Owners=["self"], MaxResults=max_results)
    # Then the request fails
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_unknown_token_is_refused(aws: LocalAws) -> None:
    """EC2 common error InvalidPaginationToken: the specified pagination token is not valid or is expired."""
    # Given an AMI
    register_images(aws, 1)
    # When images are described with a token EC2 never gave
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_images(Owners=["self"], MaxResults=5, NextToken="not-a-token")
    # Then the request fails
    assert excinfo.value.response["Error"]["Code"] == "InvalidPaginationToken"


def test_max_results_with_image_ids_pages_them(aws: LocalAws) -> None:
    """EC2 DescribeImages: ImageIds and MaxResults together return the asked AMIs page by page."""
    # Given 12 AMIs
    image_ids = register_images(aws, 12)
    # When 7 of them are described by id, 5 per page
    pages = walk(aws.ec2(HOME), ImageIds=image_ids[:7], MaxResults=5)
    # Then the 7 come back over two pages
    assert [len(p) for p in pages] == [5, 2]
    assert sorted(i for p in pages for i in p) == sorted(image_ids[:7])


def test_pages_are_sliced_from_one_selection_without_tag_scans(aws: LocalAws) -> None:
    """Linear listing (a benchmark lists 10,000 AMIs a region): one selection per listing, no per-image tag scan.

    moto selects every match per request and reads each image's tags by scanning all tags of the region;
    walking N tagged AMIs in pages would cost O(N²). Here the selection runs once and tags are read directly.
    """
    # Given 30 tagged AMIs, and moto's selection and tag scan counted
    image_ids = register_images(aws, 30)
    backend = ec2_backends[ACCOUNT][HOME]
    calls = {"describe_images": 0, "describe_tags": 0}
    with pytest.MonkeyPatch.context() as patch:
        for name in calls:
            original = getattr(backend, name)

            def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
                calls[_name] += 1
                return _original(*args, **kwargs)

            patch.setattr(backend, name, counted)
        # When they are walked 5 per page, filtered by tag
        pages = walk(aws.ec2(HOME), Filters=[{"Name": "tag:Family", "Values": ["web"]}], MaxResults=5)
    # Then 6 pages hold every AMI with its tags, moto selected once, and no tag scan ran
    assert [len(p) for p in pages] == [5] * 6
    assert sorted(i for p in pages for i in p) == sorted(image_ids)
    assert calls == {"describe_images": 1, "describe_tags": 0}
