"""Pretrained weights: installed package file -> torch hub cache -> download -> a clear error.

Never downloads when offline mode is asked for (``SKIN_ML_OFFLINE=1`` or ``allow_download=False``);
never hard-codes site-packages paths (importlib.resources). No Django.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch

HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.pth?$")


class PretrainedWeightsError(RuntimeError):
    """Pretrained weights were asked for and cannot be used."""


class PretrainedWeightsNotFound(PretrainedWeightsError):
    """No weights file anywhere we look, and no download possible."""


class PretrainedWeightsCorrupt(PretrainedWeightsError):
    """A weights file exists but is unreadable, fails its hash, or does not fit the model."""


@dataclass(frozen=True)
class WeightsFile:
    """One known file for a backbone: its name (with hash prefix), format, and where it ships."""

    filename: str
    key_format: str  # "torchvision" | "timm" | "lukemelas"
    url: str | None = None
    package: str | None = None
    package_path: str | None = None


@dataclass(frozen=True)
class ResolvedWeights:
    path: Path
    origin: str  # "explicit" | "package" | "hub-cache" | "download"
    file: WeightsFile


def hub_checkpoints_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights(
    backbone: str,
    files: tuple[WeightsFile, ...],
    install_hint: str,
    *,
    explicit: Path | None = None,
    allow_download: bool | None = None,
) -> ResolvedWeights:
    """Find a weights file for ``backbone`` in the documented order, or raise with a hint."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise PretrainedWeightsNotFound(f"weights file {explicit} does not exist")
        return ResolvedWeights(Path(explicit), "explicit", _match(files, Path(explicit)))
    for wf in files:
        path = _package_file(wf)
        if path is not None:
            return ResolvedWeights(path, "package", wf)
    for wf in files:
        path = hub_checkpoints_dir() / wf.filename
        if path.is_file():
            return ResolvedWeights(path, "hub-cache", wf)
    if allow_download is None:
        allow_download = os.environ.get("SKIN_ML_OFFLINE", "") not in ("1", "true", "yes")
    errors = []
    for wf in files:
        if allow_download and wf.url:
            try:
                return ResolvedWeights(_download(wf), "download", wf)
            except OSError as exc:  # URLError, DNS failure, disk errors
                errors.append(f"{wf.url}: {exc}")
    raise PretrainedWeightsNotFound(_not_found_message(backbone, files, install_hint, errors))


def load_weights_file(resolved: ResolvedWeights) -> dict[str, Any]:
    """Read a state dict safely (``weights_only``), checking the sha256 prefix in its name."""
    path = resolved.path
    expected = HASH_IN_NAME.search(path.name)
    if expected:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if not digest.startswith(expected.group(1)):
            raise PretrainedWeightsCorrupt(
                f"{path} is corrupt or not the expected file: sha256 {digest[:12]}... does not "
                f"start with {expected.group(1)} as its name says. Delete it and fetch it again."
            )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises many unrelated types
        raise PretrainedWeightsCorrupt(
            f"{path} is not a readable PyTorch weights file ({type(exc).__name__}: {exc}). "
            "Delete it and fetch it again."
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedWeightsCorrupt(f"{path} does not hold a state dict of tensors")
    return state


def load_into(module: torch.nn.Module, state: dict[str, Any], path: Path, backbone: str) -> None:
    """Copy ``state`` into ``module`` strictly, or say why the file does not fit."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise PretrainedWeightsCorrupt(
            f"{path} does not hold {backbone} weights: {len(missing)} missing key(s) "
            f"{missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}, "
            f"{len(wrong)} with the wrong shape {wrong[:3]}."
        )
    module.load_state_dict(state, strict=True)


def _package_file(wf: WeightsFile) -> Path | None:
    if not (wf.package and wf.package_path):
        return None
    try:
        candidate = resources.files(wf.package).joinpath(wf.package_path)
    except (ModuleNotFoundError, TypeError):
        return None
    path = Path(str(candidate))
    return path if path.is_file() else None


def _match(files: tuple[WeightsFile, ...], path: Path) -> WeightsFile:
    for wf in files:
        if wf.filename == path.name:
            return wf
    return WeightsFile(filename=path.name, key_format=files[0].key_format)


def _download(wf: WeightsFile) -> Path:
    assert wf.url is not None  # noqa: S101 - guarded by the caller
    torch.hub.load_state_dict_from_url(
        wf.url, progress=False, check_hash=True, file_name=wf.filename
    )
    return hub_checkpoints_dir() / wf.filename


def _not_found_message(
    backbone: str, files: tuple[WeightsFile, ...], install_hint: str, errors: list[str]
) -> str:
    names = ", ".join(wf.filename for wf in files)
    tried = f" Download failed: {'; '.join(errors)}." if errors else " Downloads are disabled."
    return (
        f"No pretrained ImageNet weights for {backbone!r}. Looked for an installed package file, "
        f"then {names} in the torch hub cache {hub_checkpoints_dir()}.{tried} "
        f"To fix: {install_hint} Or train with pretrained=False (much worse on small datasets)."
    )
