"""DescribeSnapshots OwnerIds and MaxResults/NextToken, as EC2 documents them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws


def test_owner_self_leaves_out_the_snapshots_of_amazon_images(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """EC2 DescribeSnapshots OwnerIds: only snapshots from the specified owners; ``self`` is the caller's account.

    moto's default AMIs (loaded here) come with snapshots owned by Amazon's accounts; ``amazon`` names those.
    """
    # Given the region's default Amazon AMIs and one snapshot of the caller's own
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")
    ec2 = aws.ec2(HOME)
    own = aws.snapshot(HOME, 8)
    everything = ec2.describe_snapshots()["Snapshots"]
    # When the caller lists its own snapshots, by self and by account id, and Amazon's
    by_self = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    by_account = ec2.describe_snapshots(OwnerIds=[ACCOUNT])["Snapshots"]
    by_amazon = ec2.describe_snapshots(OwnerIds=["amazon"])["Snapshots"]
    # Then self and the account id return only its own, amazon every other one
    assert len(everything) > 100
    assert [s["SnapshotId"] for s in by_self] == [own]
    assert [s["SnapshotId"] for s in by_account] == [own]
    assert len(by_amazon) == len(everything) - 1
    assert all(s["OwnerId"] != ACCOUNT for s in by_amazon)


def test_owner_ids_of_another_account_return_nothing_of_ours(aws: LocalAws) -> None:
    """EC2 DescribeSnapshots OwnerIds: snapshots of other owners only; the caller's are left out."""
    # Given a snapshot of the caller
    aws.snapshot(HOME, 8)
    # When snapshots of another account are asked for
    snapshots = aws.ec2(HOME).describe_snapshots(OwnerIds=["111111111111"])["Snapshots"]
    # Then none is returned
    assert snapshots == []


def test_max_results_pages_through_every_snapshot_once(aws: LocalAws) -> None:
    """EC2 DescribeSnapshots MaxResults/NextToken: pages of at most MaxResults, every snapshot exactly once."""
    # Given 42 snapshots of the caller
    snapshot_ids = [aws.snapshot(HOME, 1) for _ in range(42)]
    # When they are walked with the paginator, 5 per page
    paginator = aws.ec2(HOME).get_paginator("describe_snapshots")
    pages = list(paginator.paginate(OwnerIds=["self"], PaginationConfig={"PageSize": 5}))
    # Then there are 9 pages, and every snapshot comes back once
    assert [len(p["Snapshots"]) for p in pages] == [5] * 8 + [2]
    assert sorted(s["SnapshotId"] for p in pages for s in p["Snapshots"]) == sorted(snapshot_ids)
    assert "NextToken" not in pages[-1]


def test_max_results_above_1000_returns_at_most_1000(aws: LocalAws) -> None:
    """EC2 DescribeSnapshots MaxResults: if the value is larger than 1,000, only 1,000 results are returned."""
    # Given 7 snapshots
    snapshot_ids = [aws.snapshot(HOME, 1) for _ in range(7)]
    # When they are described with MaxResults 5,000
    response = aws.ec2(HOME).describe_snapshots(OwnerIds=["self"], MaxResults=5000)
    # Then the request is accepted and returns all 7 in one page
    assert sorted(s["SnapshotId"] for s in response["Snapshots"]) == sorted(snapshot_ids)
    assert "NextToken" not in response


def test_max_results_below_5_is_refused(aws: LocalAws) -> None:
    """EC2 DescribeSnapshots MaxResults: the value can be between 5 and 1,000."""
    # Given a snapshot
    aws.snapshot(HOME, 1)
    # When snapshots are described with MaxResults 4
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_snapshots(OwnerIds=["self"], MaxResults=4)
    # Then the request fails
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_max_results_with_snapshot_ids_is_refused(aws: LocalAws) -> None:
    """EC2 DescribeSnapshots: you cannot specify MaxResults and the snapshot IDs parameter in the same request."""
    # Given a snapshot
    snapshot_id = aws.snapshot(HOME, 1)
    # When it is described by id with MaxResults
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_snapshots(SnapshotIds=[snapshot_id], MaxResults=5)
    # Then the request fails; by id alone it is returned
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert [s["SnapshotId"] for s in aws.ec2(HOME).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]] == [
        snapshot_id
    ]
