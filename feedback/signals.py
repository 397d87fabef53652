"""Signal receivers: feedback follows changes made by other apps without them knowing it.

- a profile saved without photo consent -> that person's photos leave unused imported folders;
- an analysis deleted, or a correction deleted -> its photo leaves unused imported folders;
- an imported folder's row deleted (its dataset version was) -> the folder is deleted.

Files change only once the transaction commits (a rolled-back change leaves them alone).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from accounts.models import Profile
from analysis.models import Analysis
from feedback import services
from feedback.models import Correction, DatasetSnapshot


@receiver(post_save, sender=Profile, dispatch_uid="feedback_profile_consent")
def _profile_saved(sender, instance: Profile, **kwargs) -> None:
    if instance.consent_photos_for_training:
        return
    user_id = instance.user_id
    if not Correction.objects.filter(user_id=user_id).exclude(corrected_class="").exists():
        return
    transaction.on_commit(lambda: services.feedback_snapshot_forget_user(user_id=user_id))


@receiver(pre_delete, sender=Analysis, dispatch_uid="feedback_analysis_deleted")
def _analysis_deleting(sender, instance: Analysis, **kwargs) -> None:
    uid = str(instance.uid)
    transaction.on_commit(lambda: services.feedback_snapshot_forget_analysis(analysis_uid=uid))


@receiver(post_delete, sender=Correction, dispatch_uid="feedback_correction_deleted")
def _correction_deleted(sender, instance: Correction, **kwargs) -> None:
    uid = Analysis.objects.filter(pk=instance.analysis_id).values_list("uid", flat=True).first()
    if uid is not None:  # else the analysis is being deleted: its own receiver handles it
        transaction.on_commit(
            lambda: services.feedback_snapshot_forget_analysis(analysis_uid=str(uid))
        )


@receiver(post_delete, sender=DatasetSnapshot, dispatch_uid="feedback_snapshot_deleted")
def _snapshot_deleted(sender, instance: DatasetSnapshot, **kwargs) -> None:
    path = instance.path
    transaction.on_commit(lambda: services.feedback_snapshot_delete_folder(path=path))
