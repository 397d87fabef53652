"""Forms of the training pages: dataset upload, server folder, and the run form (model and
stages, options, label mapping). Validation of the config itself lives in ml.train.config."""

from __future__ import annotations

from django import forms
from django.conf import settings

from accounts.models import Membership, Team
from training.models import task_slug_validator

TASK_SUGGESTIONS = ("lesions", "acne-severity", "facial")


class BootstrapMixin:
    """Bootstrap classes on every widget, so templates render `{{ field }}` as is."""

    def _style(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select form-select-sm"
            else:
                css = "form-control form-control-sm"
            widget.attrs["class"] = css


def _editable_teams(user) -> forms.ModelChoiceField:
    team_ids = Membership.objects.filter(user=user, role__in=("owner", "member")).values_list(
        "team_id", flat=True
    )
    return forms.ModelChoiceField(queryset=Team.objects.filter(pk__in=list(team_ids)))


class _UploadFields(BootstrapMixin, forms.Form):
    archive = forms.FileField(
        help_text="A .zip with one folder per class (e.g. mel/…, nv/…). "
        f"Up to {settings.DATASET_UPLOAD_MAX_BYTES // 1_000_000:,} MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    group_csv = forms.FileField(
        required=False,
        help_text="Optional: a CSV mapping image ids to groups (a lesion, a person), so splits "
        "keep a group together.",
    )
    group_column = forms.CharField(max_length=60, initial="lesion_id")
    id_column = forms.CharField(max_length=60, initial="image_id")


class DatasetUploadForm(_UploadFields):
    field_order = ["team", "name", "task", "description", "archive"]
    name = forms.CharField(
        max_length=120, help_text="Uploading to an existing name adds a version."
    )
    task = forms.CharField(
        max_length=60,
        validators=[task_slug_validator],
        help_text="lesions, acne-severity, facial, or your own slug.",
        widget=forms.TextInput(attrs={"list": "task-suggestions"}),
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"] = _editable_teams(user)
        self.order_fields(self.field_order)
        self._style()


class DatasetVersionUploadForm(_UploadFields):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._style()


class RegisterFolderForm(BootstrapMixin, forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.all())
    name = forms.CharField(max_length=120)
    task = forms.CharField(max_length=60, validators=[task_slug_validator])
    path = forms.CharField(
        max_length=500,
        help_text="Absolute folder on the server with one sub-folder per class, read in place.",
    )
    group_csv_path = forms.CharField(
        max_length=500, required=False, help_text="e.g. /…/ham10000/metadata.csv"
    )
    group_column = forms.CharField(max_length=60, initial="lesion_id")
    id_column = forms.CharField(max_length=60, initial="image_id")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._style()


# (field, form field) pairs of the run form, by step. Choices come from ml.train.config.
MODEL_FIELDS = (
    "backbone",
    "pretrained",
    "image_size",
    "train_image_size",
    "frozen_epochs",
    "lr",
    "finetune_epochs",
    "unfreeze_blocks",
    "freeze_bn",
    "finetune_lr",
)
OPTION_FIELDS = (
    "batch_size",
    "optimizer",
    "weight_decay",
    "schedule",
    "warmup_epochs",
    "label_smoothing",
    "class_weights",
    "sampler",
    "augmentation",
    "dropout",
    "early_stopping_metric",
    "patience",
    "val_fraction",
    "test_fraction",
    "drop_duplicates",
    "drop_label_conflicts",
    "tta",
    "seed",
    "max_steps_per_epoch",
)
HELP = {
    "frozen_epochs": "Stage 1: train only the new head on a frozen backbone (fast).",
    "finetune_epochs": "Stage 2: unfreeze the last blocks and fine-tune at a lower rate.",
    "unfreeze_blocks": "Blocks unfrozen in stage 2 (-1: all).",
    "class_weights": "'balanced' weighs rare classes up in the loss.",
    "patience": "Stop after this many epochs without improvement (0: never).",
    "max_steps_per_epoch": "0: whole epochs; a small number makes quick trial runs.",
    "tta": "Test-time augmentation for the final test figures.",
    "train_image_size": (
        "Stage 2 trains on crops of this size and evaluates at the image size (0: the same); "
        "smaller is faster, e.g. 128 for 160."
    ),
    "freeze_bn": "Keep BatchNorm statistics fixed in stage 2 (helps with small batches).",
}


class RunForm(BootstrapMixin, forms.Form):
    """The run form. Built from TrainConfig's fields; the label mapping is one row per class
    (new name: same name keeps it, a shared name merges, drop removes)."""

    name = forms.CharField(max_length=120, required=False)

    def __init__(self, *args, class_counts: dict[str, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from ml.train.config import CHOICES, TrainConfig

        defaults = TrainConfig().to_dict()
        # Only the knobs this version of ml.train has (its config grows over time).
        self.model_names = [n for n in MODEL_FIELDS if n in defaults]
        self.option_names = [n for n in OPTION_FIELDS if n in defaults]
        for name in (*self.model_names, *self.option_names):
            self.fields[name] = _config_field(name, defaults[name], CHOICES.get(name))
        self.class_counts = dict(class_counts)
        self.classes = sorted(self.class_counts)
        for i, cls in enumerate(self.classes):
            self.fields[f"map_{i}"] = forms.CharField(
                max_length=60, required=False, initial=cls, label=cls
            )
            self.fields[f"drop_{i}"] = forms.BooleanField(required=False, label="drop")
        self._style()

    def model_fields(self) -> list:
        return [self[n] for n in self.model_names]

    def option_fields(self) -> list:
        return [self[n] for n in self.option_names]

    def mapping_rows(self) -> list:
        return [
            (c, self.class_counts[c], self[f"map_{i}"], self[f"drop_{i}"])
            for i, c in enumerate(self.classes)
        ]

    def train_config(self) -> dict:
        return {n: self.cleaned_data[n] for n in (*self.model_names, *self.option_names)}

    def label_mapping(self) -> dict:
        rules: dict[str, str | None] = {}
        for i, cls in enumerate(self.classes):
            if self.cleaned_data.get(f"drop_{i}"):
                rules[cls] = None
                continue
            target = (self.cleaned_data.get(f"map_{i}") or cls).strip()
            if target != cls:
                rules[cls] = target
        return {"rules": rules, "unmapped": "keep"}

    @classmethod
    def initial_from(cls, train: dict, mapping: dict | None, classes: list[str]) -> dict:
        initial = dict(train)
        rules = (mapping or {}).get("rules", {})
        for i, c in enumerate(classes):
            if c in rules:
                initial[f"map_{i}"] = rules[c] or c
                initial[f"drop_{i}"] = rules[c] is None
        return initial


def _config_field(name: str, default, choices) -> forms.Field:
    label = name.replace("_", " ").capitalize()
    help_text = HELP.get(name, "")
    if choices:
        return forms.ChoiceField(
            choices=[(c, c) for c in choices], initial=default, label=label, help_text=help_text
        )
    if isinstance(default, bool):
        return forms.BooleanField(required=False, initial=default, label=label, help_text=help_text)
    if isinstance(default, int):
        return forms.IntegerField(initial=default, label=label, help_text=help_text)
    return forms.FloatField(initial=default, label=label, help_text=help_text)
