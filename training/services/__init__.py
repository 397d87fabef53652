"""Training services: the only code that creates or changes datasets, dataset versions, training
sessions, epoch metrics and model versions. Called by views, API views, admin, tasks and the
progress reporter; never imports api, views, consumers or torch (tasks import torch themselves).
"""

from training.services.datasets import (
    dataset_delete,
    dataset_upload,
    dataset_version_create_from_folder,
    dataset_version_process,
    dataset_version_register_folder,
    dataset_version_revalidate,
    dataset_version_upload,
)
from training.services.registry import (
    model_version_export,
    model_version_promote,
    model_version_set_production,
)
from training.services.sessions import (
    epoch_metric_record,
    training_config_suggest,
    training_session_cancel,
    training_session_clone,
    training_session_complete,
    training_session_fail,
    training_session_heartbeat,
    training_session_mark_cancelled,
    training_session_mark_running,
    training_session_record_progress,
    training_session_resume,
    training_session_start,
    training_session_sweep_stale,
)

__all__ = [
    "dataset_delete",
    "dataset_upload",
    "dataset_version_create_from_folder",
    "dataset_version_process",
    "dataset_version_register_folder",
    "dataset_version_revalidate",
    "dataset_version_upload",
    "epoch_metric_record",
    "model_version_export",
    "model_version_promote",
    "model_version_set_production",
    "training_config_suggest",
    "training_session_cancel",
    "training_session_clone",
    "training_session_complete",
    "training_session_fail",
    "training_session_heartbeat",
    "training_session_mark_cancelled",
    "training_session_mark_running",
    "training_session_record_progress",
    "training_session_resume",
    "training_session_start",
    "training_session_sweep_stale",
]
