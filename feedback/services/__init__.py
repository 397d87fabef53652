"""Feedback services: the only code that creates or changes questionnaires' activity, responses,
answers, corrections and imported feedback folders. Called by views, API views, admin actions and
signal receivers; never imports api or views."""

from feedback.services.datasets import (
    ExportResult,
    feedback_dataset_export,
    feedback_dataset_import,
    feedback_snapshot_delete_folder,
    feedback_snapshot_forget_analysis,
    feedback_snapshot_forget_user,
    person_group,
    snapshots_root,
)
from feedback.services.questionnaires import (
    questionnaire_activate,
    questionnaire_deactivate,
    questionnaire_new_version,
)
from feedback.services.responses import AnswerInput, feedback_response_submit

__all__ = [
    "AnswerInput",
    "ExportResult",
    "feedback_dataset_export",
    "feedback_dataset_import",
    "feedback_response_submit",
    "feedback_snapshot_delete_folder",
    "feedback_snapshot_forget_analysis",
    "feedback_snapshot_forget_user",
    "person_group",
    "questionnaire_activate",
    "questionnaire_deactivate",
    "questionnaire_new_version",
    "snapshots_root",
]
