"""AMI usage reports: how other accounts use the caller's AMIs, built asynchronously and kept for 30 days.

AWS documentation followed: the User Guide "View your AMI usage" (one report per AMI; the accounts and resource
types to check; counts per account and resource type, a launch template counted once; reports deleted 30 days
after creation; quotas of pending reports), and the EC2 API Reference for CreateImageUsageReport (AccountId.N:
0 to 200; ClientToken; TagSpecifications of ResourceType image-usage-report), DescribeImageUsageReports
(ImageId.N/ReportId.N: 0 to 200; filters creation-time, state, tag:<key>, tag-key), ImageUsageReport (state
pending | available | error, stateReason, expirationTime 30 days after creation),
DescribeImageUsageReportEntries (filters account-id, creation-time, resource-type), ImageUsageReportEntry,
DeleteImageUsageReport and ImageUsageResourceTypeOptionRequest (version-depth 1 to 10,000).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from ami_lifecycle.local.fidelity import (
    age_usage_report,
    complete_usage_reports,
    fail_usage_report,
    set_consumer_usage,
)

from .conftest import DR, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws

BOTH = [{"ResourceType": "ec2:Instance"}, {"ResourceType": "ec2:LaunchTemplate"}]
ALICE, BOB, CAROL = "111111111111", "222222222222", "333333333333"


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def create(aws: LocalAws, image_id: str, resource_types: list[dict[str, Any]] | None = None, **params: Any) -> str:
    response = aws.ec2(HOME).create_image_usage_report(ImageId=image_id, ResourceTypes=resource_types or BOTH, **params)
    return str(response["ReportId"])


def report(aws: LocalAws, report_id: str) -> dict[str, Any]:
    reports: list[dict[str, Any]] = aws.ec2(HOME).describe_image_usage_reports(ReportIds=[report_id])[
        "ImageUsageReports"
    ]
    assert len(reports) == 1
    return reports[0]


def entries(aws: LocalAws, **params: Any) -> list[tuple[str, str, int]]:
    found = aws.ec2(HOME).describe_image_usage_report_entries(**params)["ImageUsageReportEntries"]
    return sorted((e["AccountId"], e["ResourceType"], e["UsageCount"]) for e in found)


def test_a_new_report_is_pending_for_thirty_days_as_requested(aws: LocalAws) -> None:
    """EC2 CreateImageUsageReport returns a ReportId; the report is pending, expires 30 days after creation."""
    # Given an AMI of the caller's
    image = aws.source_image().image_id
    # When a report is created on it for two accounts and launch templates 5 versions deep, with a tag
    types = [
        {"ResourceType": "ec2:Instance"},
        {
            "ResourceType": "ec2:LaunchTemplate",
            "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["5"]}],
        },
    ]
    tags = [{"ResourceType": "image-usage-report", "Tags": [{"Key": "Team", "Value": "platform"}]}]
    report_id = create(aws, image, types, AccountIds=[ALICE, BOB], TagSpecifications=tags)
    # Then its id is amiur- and 17 hex digits, and it is described as requested, pending, with no entries yet
    assert re.fullmatch(r"amiur-[0-9a-f]{17}", report_id)
    described = report(aws, report_id)
    assert (described["ImageId"], described["State"], described["AccountIds"]) == (image, "pending", [ALICE, BOB])
    assert described["ResourceTypes"] == types
    assert described["Tags"] == [{"Key": "Team", "Value": "platform"}]
    assert described["ExpirationTime"] - described["CreationTime"] == timedelta(days=30)
    assert entries(aws, ReportIds=[report_id]) == []


def test_completed_report_counts_each_account_and_resource_type_asked(aws: LocalAws) -> None:
    """EC2 AMI usage reports: per account and resource type, narrowed to the AccountIds and ResourceTypes given."""
    # Given an AMI used by three other accounts in instances and launch templates
    image = aws.source_image().image_id
    set_consumer_usage(image, HOME, ALICE, "ec2:Instance", 3)
    set_consumer_usage(image, HOME, ALICE, "ec2:LaunchTemplate", 1)
    set_consumer_usage(image, HOME, BOB, "ec2:Instance", 2)
    set_consumer_usage(image, HOME, CAROL, "ec2:LaunchTemplate", 4)
    # When a report on instances in Alice's and Carol's accounts completes
    narrow = create(aws, image, [{"ResourceType": "ec2:Instance"}], AccountIds=[ALICE, CAROL])
    assert complete_usage_reports() == [narrow]
    # Then it is available with Alice's instances only
    assert report(aws, narrow)["State"] == "available"
    assert entries(aws, ReportIds=[narrow]) == [(ALICE, "ec2:Instance", 3)]
    # and a report on every account and both types counts all four usages
    full = create(aws, image)
    complete_usage_reports(region=HOME)
    assert entries(aws, ReportIds=[full]) == [
        (ALICE, "ec2:Instance", 3),
        (ALICE, "ec2:LaunchTemplate", 1),
        (BOB, "ec2:Instance", 2),
        (CAROL, "ec2:LaunchTemplate", 4),
    ]
    entry = aws.ec2(HOME).describe_image_usage_report_entries(ReportIds=[full])["ImageUsageReportEntries"][0]
    assert (entry["ImageId"], entry["ReportId"]) == (image, full)
    assert entry["ReportCreationTime"] == report(aws, full)["CreationTime"]


def test_entries_are_frozen_when_the_report_completes(aws: LocalAws) -> None:
    """EC2 AMI usage reports are point-in-time: a later change shows in a later report only."""
    # Given a completed report counting Bob's 2 instances
    image = aws.source_image().image_id
    set_consumer_usage(image, HOME, BOB, "ec2:Instance", 2)
    first = create(aws, image)
    complete_usage_reports()
    # When Bob terminates them and a new report completes
    set_consumer_usage(image, HOME, BOB, "ec2:Instance", 0)
    second = create(aws, image)
    complete_usage_reports()
    # Then the first report still counts them, the second has no entries
    assert entries(aws, ReportIds=[first]) == [(BOB, "ec2:Instance", 2)]
    assert entries(aws, ReportIds=[second]) == []


def test_failed_report_is_in_error_with_its_reason(aws: LocalAws) -> None:
    """EC2 ImageUsageReport state error: the report could not be created; stateReason gives details."""
    # Given a pending report
    image = aws.source_image().image_id
    report_id = create(aws, image)
    # When it fails
    fail_usage_report(report_id, HOME, "Internal error")
    # Then it is in error with that reason, has no entries, and completing reports leaves it so
    assert complete_usage_reports() == []
    described = report(aws, report_id)
    assert (described["State"], described["StateReason"]) == ("error", "Internal error")
    assert entries(aws, ReportIds=[report_id]) == []


def test_client_token_returns_the_same_report_or_refuses_other_parameters(aws: LocalAws) -> None:
    """EC2 idempotency: the same ClientToken and parameters return the first result; other parameters fail."""
    # Given a report created with a client token
    image = aws.source_image().image_id
    report_id = create(aws, image, ClientToken="token-1")
    # When the same request is retried, and the token is reused for other accounts
    again = create(aws, image, ClientToken="token-1")
    with pytest.raises(ClientError) as excinfo:
        create(aws, image, ClientToken="token-1", AccountIds=[ALICE])
    # Then the retry returns the same report, and the other request is refused
    assert again == report_id
    assert error_code(excinfo) == "IdempotentParameterMismatch"
    assert [r["ReportId"] for r in aws.ec2(HOME).describe_image_usage_reports()["ImageUsageReports"]] == [report_id]


def test_one_pending_report_per_image(aws: LocalAws) -> None:
    """EC2 AMI usage report quotas: 1 pending report per AMI (error code not documented: ResourceLimitExceeded)."""
    # Given a pending report on an AMI
    image, other = aws.source_image().image_id, aws.source_image().image_id
    create(aws, image)
    # When a second one is created on it, and one on another AMI
    with pytest.raises(ClientError) as excinfo:
        create(aws, image)
    create(aws, other)
    # Then the second is refused; once the first completes, a new one may be created
    assert error_code(excinfo) == "ResourceLimitExceeded"
    complete_usage_reports()
    create(aws, image)


def test_two_thousand_pending_reports_per_region(aws: LocalAws) -> None:
    """EC2 AMI usage report quotas: 2,000 pending reports per Region (error code not documented)."""
    # Given 2,000 pending reports, one on each of 2,000 AMIs, and one more AMI
    ec2 = aws.ec2(HOME)
    images = [ec2.register_image(Name=f"app-{i:04d}")["ImageId"] for i in range(2001)]
    for image in images[:2000]:
        create(aws, image, [{"ResourceType": "ec2:Instance"}])
    # When a report is created on the last AMI
    with pytest.raises(ClientError) as excinfo:
        create(aws, images[2000], [{"ResourceType": "ec2:Instance"}])
    # Then it is refused until a pending report completes; other regions have their own quota
    assert error_code(excinfo) == "ResourceLimitExceeded"
    fail_usage_report(
        aws.ec2(HOME).describe_image_usage_reports(MaxResults=1)["ImageUsageReports"][0]["ReportId"], HOME, "x"
    )
    create(aws, images[2000], [{"ResourceType": "ec2:Instance"}])


def test_only_the_owner_reports_on_an_image(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """EC2 CreateImageUsageReport reports on "your image"; another owner's AMI is refused (code not documented:
    AuthFailure, as for other image actions by a non-owner); an unknown AMI is InvalidAMIID.NotFound."""
    # Given the public AMIs Amazon owns in the region
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")
    amazon = aws.ec2(HOME).describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    # When reports are created on one of them and on an unknown AMI
    with pytest.raises(ClientError) as not_owner:
        create(aws, amazon)
    with pytest.raises(ClientError) as unknown:
        create(aws, "ami-0123456789abcdef0")
    # Then both are refused
    assert error_code(not_owner) == "AuthFailure"
    assert error_code(unknown) == "InvalidAMIID.NotFound"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"ResourceTypes": [{"ResourceType": "ssm:Parameter"}]}, "InvalidParameterValue"),
        (
            {
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:Instance",
                        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["5"]}],
                    }
                ]
            },
            "InvalidParameterValue",
        ),
        (
            {
                "ResourceTypes": [
                    {
                        "ResourceType": "ec2:LaunchTemplate",
                        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["10001"]}],
                    }
                ]
            },
            "InvalidParameterValue",
        ),
        ({"ResourceTypes": BOTH, "AccountIds": [f"{i:012d}" for i in range(201)]}, "InvalidParameterValue"),
        (
            {
                "ResourceTypes": BOTH,
                "TagSpecifications": [{"ResourceType": "image", "Tags": [{"Key": "a", "Value": "b"}]}],
            },
            "InvalidParameterValue",
        ),
    ],
    ids=["unsupported-type", "option-on-instances", "depth-10001", "201-accounts", "tags-for-image"],
)
def test_invalid_report_requests_are_refused(aws: LocalAws, params: dict[str, Any], code: str) -> None:
    """EC2 CreateImageUsageReport: ResourceTypes ec2:Instance | ec2:LaunchTemplate | Image Builder recipes,
    version-depth on launch templates only (1 to 10,000), at most 200 AccountIds, tags for image-usage-report."""
    # Given an AMI
    image = aws.source_image().image_id
    # When the invalid report is requested
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).create_image_usage_report(ImageId=image, **params)
    # Then it is refused and no report exists
    assert error_code(excinfo) == code
    assert aws.ec2(HOME).describe_image_usage_reports()["ImageUsageReports"] == []


def test_reports_are_selected_by_image_report_and_filters(aws: LocalAws) -> None:
    """EC2 DescribeImageUsageReports: ImageIds, ReportIds and filters state, creation-time, tag:<key>, tag-key."""
    # Given an available report on one AMI and a pending tagged report on another
    first, second = aws.source_image().image_id, aws.source_image().image_id
    done = create(aws, first)
    complete_usage_reports()
    tags = [{"ResourceType": "image-usage-report", "Tags": [{"Key": "Team", "Value": "platform"}]}]
    waiting = create(aws, second, TagSpecifications=tags)
    day = report(aws, waiting)["CreationTime"].strftime("%Y-%m-%dT*")

    def ids(**params: Any) -> list[str]:
        found = aws.ec2(HOME).describe_image_usage_reports(**params)["ImageUsageReports"]
        return sorted(r["ReportId"] for r in found)

    # When they are described by image, by id and by each filter
    # Then each selection holds the reports it names
    assert ids(ImageIds=[first]) == [done]
    assert ids(ReportIds=[waiting, "amiur-0123456789abcdef0"]) == [waiting]
    assert ids(Filters=[{"Name": "state", "Values": ["pending"]}]) == [waiting]
    assert ids(Filters=[{"Name": "creation-time", "Values": [day]}]) == sorted([done, waiting])
    assert ids(Filters=[{"Name": "tag:Team", "Values": ["plat*"]}]) == [waiting]
    assert ids(Filters=[{"Name": "tag-key", "Values": ["Team"]}]) == [waiting]
    assert ids(ImageIds=[first], Filters=[{"Name": "state", "Values": ["pending"]}]) == []


def test_reports_and_entries_page(aws: LocalAws) -> None:
    """EC2 DescribeImageUsageReports and DescribeImageUsageReportEntries: MaxResults and NextToken."""
    # Given 7 completed reports on 7 AMIs, each used in 3 accounts
    images = [aws.source_image(sizes=(1,)).image_id for _ in range(7)]
    for image in images:
        for account in (ALICE, BOB, CAROL):
            set_consumer_usage(image, HOME, account, "ec2:Instance", 1)
        create(aws, image)
    complete_usage_reports()
    # When reports are walked 3 per page, and entries 4 per page
    ec2 = aws.ec2(HOME)
    report_pages = list(ec2.get_paginator("describe_image_usage_reports").paginate(PaginationConfig={"PageSize": 3}))
    entry_pages = list(
        ec2.get_paginator("describe_image_usage_report_entries").paginate(PaginationConfig={"PageSize": 4})
    )
    # Then every report and every entry comes back once
    assert [len(p["ImageUsageReports"]) for p in report_pages] == [3, 3, 1]
    assert sorted(r["ImageId"] for p in report_pages for r in p["ImageUsageReports"]) == sorted(images)
    assert [len(p["ImageUsageReportEntries"]) for p in entry_pages] == [4] * 5 + [1]
    assert len({(e["ImageId"], e["AccountId"]) for p in entry_pages for e in p["ImageUsageReportEntries"]}) == 21


def test_entries_are_filtered_by_account_and_resource_type(aws: LocalAws) -> None:
    """EC2 DescribeImageUsageReportEntries filters account-id and resource-type, and ImageIds."""
    # Given completed reports on two AMIs used by Alice and Bob
    first, second = aws.source_image().image_id, aws.source_image().image_id
    set_consumer_usage(first, HOME, ALICE, "ec2:Instance", 3)
    set_consumer_usage(first, HOME, BOB, "ec2:LaunchTemplate", 1)
    set_consumer_usage(second, HOME, ALICE, "ec2:LaunchTemplate", 2)
    create(aws, first)
    create(aws, second)
    complete_usage_reports()
    # When entries are described by filter and by image
    # Then each holds the matching entries
    assert entries(aws, Filters=[{"Name": "account-id", "Values": [ALICE]}]) == [
        (ALICE, "ec2:Instance", 3),
        (ALICE, "ec2:LaunchTemplate", 2),
    ]
    assert entries(aws, Filters=[{"Name": "resource-type", "Values": ["ec2:LaunchTemplate"]}]) == [
        (ALICE, "ec2:LaunchTemplate", 2),
        (BOB, "ec2:LaunchTemplate", 1),
    ]
    assert entries(aws, ImageIds=[second]) == [(ALICE, "ec2:LaunchTemplate", 2)]


def test_reports_expire_thirty_days_after_creation(aws: LocalAws) -> None:
    """EC2 AMI usage reports: Amazon EC2 automatically deletes a report 30 days after creation."""
    # Given two completed reports, aged 29 and 30 days
    young, old = aws.source_image().image_id, aws.source_image().image_id
    set_consumer_usage(old, HOME, BOB, "ec2:Instance", 1)
    young_id, old_id = create(aws, young), create(aws, old)
    complete_usage_reports()
    created = report(aws, young_id)["CreationTime"]
    age_usage_report(young_id, HOME, days=29)
    age_usage_report(old_id, HOME, days=30)
    # When the reports and entries are described, and the old one deleted
    listed = aws.ec2(HOME).describe_image_usage_reports()["ImageUsageReports"]
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).delete_image_usage_report(ReportId=old_id)
    # Then only the young report is left, created 29 days earlier, and the old one's entries are gone with it
    assert [r["ReportId"] for r in listed] == [young_id]
    assert listed[0]["CreationTime"] == created - timedelta(days=29)
    assert listed[0]["ExpirationTime"] == created + timedelta(days=1)
    assert entries(aws, ImageIds=[old]) == []
    assert error_code(excinfo) == "InvalidImageUsageReportId.NotFound"


def test_deleted_report_is_gone(aws: LocalAws) -> None:
    """EC2 DeleteImageUsageReport deletes the report; an unknown id is refused (code not documented:
    InvalidImageUsageReportId.NotFound)."""
    # Given a completed report
    image = aws.source_image().image_id
    set_consumer_usage(image, HOME, BOB, "ec2:Instance", 1)
    report_id = create(aws, image)
    complete_usage_reports()
    # When it is deleted, twice
    response = aws.ec2(HOME).delete_image_usage_report(ReportId=report_id)
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).delete_image_usage_report(ReportId=report_id)
    # Then the first returns true, the report and its entries are gone, and the second is refused
    assert response["Return"] is True
    assert aws.ec2(HOME).describe_image_usage_reports()["ImageUsageReports"] == []
    assert entries(aws) == []
    assert error_code(excinfo) == "InvalidImageUsageReportId.NotFound"


def test_describe_refuses_more_than_two_hundred_ids(aws: LocalAws) -> None:
    """EC2 DescribeImageUsageReports / ...Entries: ImageId.N and ReportId.N take at most 200 items."""
    # Given nothing in particular
    ids = [f"ami-{i:017x}" for i in range(201)]
    # When 201 image ids are asked for
    with pytest.raises(ClientError) as reports:
        aws.ec2(HOME).describe_image_usage_reports(ImageIds=ids)
    with pytest.raises(ClientError) as report_entries:
        aws.ec2(HOME).describe_image_usage_report_entries(ImageIds=ids)
    # Then both are refused
    assert error_code(reports) == error_code(report_entries) == "InvalidParameterValue"


def test_hooks_refuse_what_they_cannot_apply(aws: LocalAws) -> None:
    """Test helper contract: known AMIs, resource types and 12-digit accounts; only pending reports fail."""
    # Given an available report
    image = aws.source_image().image_id
    report_id = create(aws, image)
    complete_usage_reports()
    # When the hooks are called with what does not exist or does not apply
    # Then each refuses
    with pytest.raises(ValueError, match="ssm:Parameter"):
        set_consumer_usage(image, HOME, BOB, "ssm:Parameter", 1)
    with pytest.raises(ValueError, match="12 digits"):
        set_consumer_usage(image, HOME, "bob", "ec2:Instance", 1)
    with pytest.raises(ValueError, match=DR):
        set_consumer_usage(image, DR, BOB, "ec2:Instance", 1)
    with pytest.raises(ValueError, match="available"):
        fail_usage_report(report_id, HOME, "late")
    with pytest.raises(ValueError, match="amiur-0123456789abcdef0"):
        age_usage_report("amiur-0123456789abcdef0", HOME, days=1)
