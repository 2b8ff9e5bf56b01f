"""Pure rules that protect an image: what finishing it adds, and whether a DR region needs a copy. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from ..act.adopt import AddLineageTags
from ..act.base import Action
from ..act.protect import AddLaunchPermissions, AddSnapshotVolumePermissions, CopyImage, TagResources
from ..model.image import MAX_USER_TAGS, PROTECTED_TAG, SNAPSHOT_MARKS, Image, copy_client_token
from ..model.inventory import ImageState
from ..policy import DrRegion, Match, Policy, Sharing
from .desired import DesiredImage, desired_copy, protection_digest
from .tag_fit import fit_tags, free_slots

# A copy that failed this often is not retried by events; the operator looks at why.
MAX_COPY_ATTEMPTS = 3


@dataclass(frozen=True)
class CopyDecision:
    action: CopyImage | None
    existing: Image | None  # the copy to finish or wait for
    note: str


def plan_finish(image: Image, state: ImageState, desired: DesiredImage, one_write: bool = False) -> list[Action]:
    """Tags on the image and its snapshots, launch and snapshot permissions: only what is missing.

    The protected mark is written last, so an image without it (or with an old one) is known to be unfinished
    without reading its permissions. Every tag write is fitted to what the resource already carries
    (plan/tag_fit.py); an image with no room left for the mark is verified again next time.

    `one_write` (the sweep's finishing): permissions first, then the mark rides in the image's own tag write, the
    last action; EC2 refuses a failing CreateTags request as a whole, so a failed one leaves no mark.
    """
    permissions = _plan_permissions(image, state, desired)
    digest = protection_digest(desired)
    if one_write:
        return [*permissions, *_plan_tags(image, state, desired, digest)[0]]
    tagging, image_tags = _plan_tags(image, state, desired)
    actions: list[Action] = [*tagging, *permissions]
    if image_tags.get(PROTECTED_TAG) != digest and _room_for_mark(image_tags):
        actions.append(TagResources(image.region, (image.image_id,), {PROTECTED_TAG: digest}))
    return actions


def _plan_permissions(image: Image, state: ImageState, desired: DesiredImage) -> list[Action]:
    actions: list[Action] = []
    missing_launch = sorted(set(_launch_pairs(desired.sharing)) - state.launch_permissions)
    if missing_launch:
        actions.append(AddLaunchPermissions(image.region, image.image_id, tuple(missing_launch)))
    for snapshot_id in image.snapshot_ids:
        missing = sorted(set(desired.sharing.snapshot_accounts) - state.snapshot_accounts.get(snapshot_id, set()))
        if missing:
            actions.append(AddSnapshotVolumePermissions(image.region, snapshot_id, tuple(missing)))
    return actions


def tags_left_out(image: Image, state: ImageState, desired: DesiredImage) -> str:
    """What finishing leaves out on this image and its snapshots as they are now, for notes and logs."""
    notes = []
    fit = fit_tags(desired.image_tags, existing=image.tags)
    if fit.left_out:
        notes.append(f"{image.image_id}: {fit.describe()}")
    if not _room_for_mark(image.tags | fit.tags):
        notes.append(f"{image.image_id}: no room for {PROTECTED_TAG} (EC2 allows {MAX_USER_TAGS} tags)")
    for snapshot_id in image.snapshot_ids:
        snapshot_fit = fit_tags(desired.snapshot_tags, existing=state.snapshot_tags.get(snapshot_id, {}),
                                reserve=SNAPSHOT_MARKS)  # fmt: skip
        if snapshot_fit.left_out:
            notes.append(f"{snapshot_id}: {snapshot_fit.describe()}")
    return "; ".join(notes)


def plan_copy(source: Image, match: Match, dr: DrRegion, copies: list[Image], policy: Policy) -> CopyDecision:
    """Start a copy into `dr` unless one exists; a failed copy is retried with a new token, a few times."""
    live = [c for c in copies if c.state not in ("failed", "error", "deregistered")]
    if live:
        # Prefer an available copy; duplicates (made outside this product's token) are reported, not touched.
        live.sort(key=lambda c: (c.state != "available", c.creation_date, c.image_id))
        extra = f"; also found {', '.join(c.image_id for c in live[1:])}" if len(live) > 1 else ""
        return CopyDecision(None, live[0], f"copy {live[0].image_id} is {live[0].state}{extra}")

    attempt = len(copies)
    if attempt >= MAX_COPY_ATTEMPTS:
        reasons = "; ".join(f"{c.image_id}: {c.state_reason or c.state}" for c in copies)
        return CopyDecision(None, None, f"{attempt} copies failed, not retrying ({reasons})")

    desired = desired_copy(source, match, policy)
    action = CopyImage(
        region=dr.region,
        source_image_id=source.image_id,
        source_region=source.region,
        name=source.name,
        description=f"DR copy of {source.image_id} from {source.region} ({match.family} {match.version})"[:255],
        client_token=copy_client_token(source, dr.region, dr.kms_key_id, attempt),
        image_tags=desired.image_tags,
        snapshot_tags=desired.snapshot_tags,
        kms_key_id=dr.kms_key_id,
        left_out=desired.left_out,
    )
    retry = f" (attempt {attempt + 1} after {attempt} failed)" if attempt else ""
    return CopyDecision(action, None, f"copy to {dr.region}{retry}")


def _room_for_mark(tags: dict[str, str]) -> bool:
    return PROTECTED_TAG in tags or free_slots(tags) > 0


def _launch_pairs(sharing: Sharing) -> list[tuple[str, str]]:
    return [(k, v) for perm in sharing.launch_permissions for k, v in perm.items()]


def _missing(current: dict[str, str], desired: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in desired.items() if current.get(k) != v}


def _plan_tags(
    image: Image, state: ImageState, desired: DesiredImage, mark: str | None = None
) -> tuple[list[TagResources], dict[str, str]]:
    """As few CreateTags calls as possible: one per set of snapshot tags, joined by the image when that is exact.
    Each resource gets what fits beside the tags it has. Also returns the image's tags once these are applied.

    With a `mark` (the protection digest), the image's call carries it too and comes last. Snapshots then share
    that call only where they have room for the mark beside the marks kept free for retiring them: it means
    nothing on a snapshot (nothing reads it there, and `propagated()` never carries it on)."""
    image_fit = fit_tags(desired.image_tags, existing=image.tags)
    image_missing = _missing(image.tags, image_fit.tags)
    final_image_tags = image.tags | image_missing
    marking = {PROTECTED_TAG: mark} if mark and final_image_tags.get(PROTECTED_TAG) != mark else {}
    if marking and not _room_for_mark(final_image_tags):
        marking = {}
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    markable: dict[tuple[tuple[str, str], ...], bool] = {}
    for snapshot_id in image.snapshot_ids:
        current = state.snapshot_tags.get(snapshot_id, {})
        fit = fit_tags(desired.snapshot_tags, existing=current, reserve=SNAPSHOT_MARKS)
        if _missing(current, fit.tags):
            key = tuple(fit.tags.items())
            groups.setdefault(key, []).append(snapshot_id)
            room = PROTECTED_TAG in current or free_slots(current.keys() | fit.tags.keys(), SNAPSHOT_MARKS) > 0
            markable[key] = markable.get(key, True) and room
    actions = []
    image_call: TagResources | None = None
    for tags, snapshots in groups.items():
        wanted = dict(tags)
        # The image can share a snapshots' call only if that call sets nothing on it that it should not have.
        joinable = image_missing.items() <= wanted.items() and not _missing(final_image_tags, wanted)
        if image_call is None and (image_missing or marking) and joinable and (not marking or markable[tags]):
            image_call = TagResources(image.region, (image.image_id, *snapshots), wanted | marking)
            if not marking:
                actions.append(image_call)
        else:
            actions.append(TagResources(image.region, tuple(snapshots), wanted))
    if marking:  # the image's write carrying the mark goes last
        actions.append(image_call or TagResources(image.region, (image.image_id,), image_missing | marking))
    elif image_call is None and image_missing:
        actions.insert(0, TagResources(image.region, (image.image_id,), image_missing))
    return actions, final_image_tags | marking


def plan_lineage_tags(region: str, wanted: dict[str, dict[str, str]]) -> list[AddLineageTags]:
    """As few CreateTags as cover `wanted` (image id -> tags it needs): one per distinct tag set, or one per
    distinct tag (key and value) when that is fewer. Versions differ per image, but a family's images share
    the family tag, and families often share version labels."""
    by_set: dict[tuple[tuple[str, str], ...], list[str]] = {}
    by_tag: dict[tuple[str, str], list[str]] = {}
    for image_id, tags in sorted(wanted.items()):
        by_set.setdefault(tuple(sorted(tags.items())), []).append(image_id)
        for pair in sorted(tags.items()):
            by_tag.setdefault(pair, []).append(image_id)
    calls = [(ids, dict(pairs)) for pairs, ids in by_set.items()]
    if len(by_tag) < len(by_set):
        calls = [(ids, {key: value}) for (key, value), ids in by_tag.items()]
    return [AddLineageTags(region, tuple(ids), tags) for ids, tags in calls]
