#!/usr/bin/env bash
# The recipe of the bundled default generator (see README, "The bundled model").
# Usage: scripts/train_default.sh MNIST_NPZ RUN_DIR [SEED]
# Tutorial architecture; what differs from the tutorial's training: batch 64 (4x the updates per
# epoch), Adam(2e-4, beta_1 0.5) for both networks, one-sided label smoothing 0.1, N(0, 0.02)
# kernel init, alternating D/G updates with fresh noise for G, and each epoch's generator kept
# so scripts/bundle_model.py can pick the best one by classifier-FID.
set -euo pipefail
data=${1:?MNIST npz}; out=${2:?run folder}; seed=${3:-0}
exec gantool train --data "$data" --out "$out" --seed "$seed" \
  --epochs 20 --batch-size 64 --lr 2e-4 --beta1 0.5 --label-smoothing 0.1 --init normal --keep-epochs
