#!/usr/bin/env bash
# Rebuilds the three default model bundles under models/ from ../shared/data, with the project's
# own commands (python -m ml train / python -m ml export). Runs on CPU; on 2 cores about
# 25 min (lesions) + 15 min (acne-severity) + 5 min (facial).
#
#   scripts/build_default_models.sh [lesions|acne-severity|facial ...]   (default: all three)
#
# Run directories go to $RUNS (default runs/defaults); bundles replace models/<task>/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs/defaults}
mkdir -p "$RUNS"
tasks=("$@")
[ ${#tasks[@]} -eq 0 ] && tasks=(lesions acne-severity facial)

for task in "${tasks[@]}"; do
  case "$task" in
  lesions)
    # HAM10000 subset, 7 classes, split by lesion_id (metadata.csv): no lesion in two splits.
    $PY -m ml train --data "$DATA/ham10000/images" --group-csv "$DATA/ham10000/metadata.csv" \
      --set image_size=160 --set frozen_epochs=3 --set finetune_epochs=24 \
      --set unfreeze_blocks=-1 --set finetune_lr=0.0005 --set 'class_weights="balanced"' \
      --set 'augmentation="photometric"' --set label_smoothing=0.1 --set 'tta="dihedral"' \
      --set patience=8 --set threads=2 --out "$RUNS/lesions"
    $PY -m ml export "$RUNS/lesions" --task lesions --out models/lesions \
      --ood "$DATA/facial/clear_skin" --ood "$DATA/acne04/levle1_moderate" \
      --licence "HAM10000 (Tschandl et al. 2018), CC BY-NC-SA 4.0" \
      --note "Trained on a 1,837-image subset of HAM10000 (dermoscopic close-ups); not for phone photos of skin."
    ;;
  acne-severity)
    # The seed paper's three classes: ACNE04 grades 0+1 -> mild_moderate, 2+3 -> severe, and
    # clear skin from facial/clear_skin (another camera and setting: the card measures the bias).
    $PY -m ml train --data "$DATA/acne04" --data "clear=$DATA/facial/clear_skin" \
      --map levle0_mild=mild_moderate --map levle1_moderate=mild_moderate \
      --map levle2_severe=severe --map levle3_very_severe=severe \
      --set image_size=192 --set frozen_epochs=3 --set finetune_epochs=12 \
      --set unfreeze_blocks=-1 --set finetune_lr=0.0005 --set 'class_weights="balanced"' \
      --set 'augmentation="photometric"' --set label_smoothing=0.1 --set 'tta="hflip"' \
      --set patience=5 --set threads=2 --out "$RUNS/acne-severity"
    $PY -m ml export "$RUNS/acne-severity" --task acne-severity --out models/acne-severity \
      --ood "$DATA/ham10000/images/nv" \
      --licence "ACNE04 (Wu et al. 2019): research use only; facial/clear_skin: no licence stated" \
      --note "The clear class comes from a different photo source than the acne grades: see source_bias."
    ;;
  facial)
    $PY -m ml train --data "$DATA/facial" \
      --set image_size=224 --set frozen_epochs=5 --set finetune_epochs=10 \
      --set val_fraction=0.2 --set test_fraction=0.2 \
      --set unfreeze_blocks=-1 --set finetune_lr=0.0003 --set 'class_weights="balanced"' \
      --set 'augmentation="photometric"' --set label_smoothing=0.1 --set 'tta="hflip"' \
      --set patience=5 --set threads=2 --out "$RUNS/facial"
    $PY -m ml export "$RUNS/facial" --task facial --out models/facial \
      --ood "$DATA/ham10000/images/nv" --probe "$DATA/acne04/levle1_moderate" \
      --licence "web-collected photos, no licence stated: development use only" \
      --note "335 stock-style photos; a small set: expect wide error bars."
    ;;
  *) echo "unknown task $task (lesions, acne-severity, facial)" >&2; exit 2 ;;
  esac
done
