"""Which actions each function applies; the template tests compare their permissions with `template.yaml`."""

from __future__ import annotations

from .adopt import AddLineageTags
from .base import Action
from .finish import FinishImage, FinishListedImage
from .launch_templates import CreateTemplateVersion, SetDefaultTemplateVersion
from .launches import PublishAlert, RecordLaunch
from .parameters import CancelDeprecation, PutImageParameter, ShareParameters
from .protect import AddLaunchPermissions, AddSnapshotVolumePermissions, CopyImage, TagResources
from .retire import DeleteSnapshot, DeprecateImage, DeregisterImage, DisableImage, MarkRetired
from .summary import PublishSweepSummary
from .usage import CreateImageUsageReport, ReportUseInOtherAccounts

IMAGE_AVAILABLE_ACTIONS: tuple[type[Action], ...] = (
    CopyImage,
    FinishImage,
    TagResources,
    AddLaunchPermissions,
    AddSnapshotVolumePermissions,
    PutImageParameter,
    CreateTemplateVersion,
    SetDefaultTemplateVersion,
)
LAUNCH_ACTIONS: tuple[type[Action], ...] = (RecordLaunch, TagResources, PublishAlert)
SWEEP_ACTIONS: tuple[type[Action], ...] = (
    CopyImage,
    FinishListedImage,
    AddLineageTags,
    DeprecateImage,
    DisableImage,
    MarkRetired,
    DeregisterImage,
    DeleteSnapshot,
    CreateImageUsageReport,
    ReportUseInOtherAccounts,
    PublishSweepSummary,
    CancelDeprecation,
    PutImageParameter,
    CreateTemplateVersion,
    SetDefaultTemplateVersion,
    ShareParameters,
)
