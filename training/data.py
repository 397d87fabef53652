"""From a training-session row to the ml.data index it trains on (the dataset version's folder,
its grouping CSV, the session's label mapping). Used by the training and export tasks."""

from __future__ import annotations

from typing import Any

from training.models import TrainingSession


def load_training_data(session: TrainingSession) -> Any:
    """The session's dataset version as an ml.data DatasetIndex, label mapping applied."""
    from ml import data as ml_data

    version = session.dataset_version
    if version is None or not version.storage_path:
        raise RuntimeError("The dataset version of this run was deleted; clone the run instead.")
    index = ml_data.scan(
        version.storage_path,
        group_csv=version.group_csv_path or None,
        group_column=version.group_column or "lesion_id",
        id_column=version.id_column or "image_id",
    )
    mapping = ml_data.LabelMapping.from_dict(session.config.get("label_mapping") or {})
    return mapping.apply(index)
