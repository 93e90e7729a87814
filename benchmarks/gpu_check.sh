#!/bin/bash
# A short GPU check: DDP + bf16 training smoke run, evaluation, and ParticleNet/ParT throughput against
# weaver-core (pip install --no-deps weaver-core). Usage: bash benchmarks/gpu_check.sh DATASET [OUT]
set -euo pipefail
data=${1:?usage: bash benchmarks/gpu_check.sh DATASET [OUT]}
out=${2:-/tmp/jetlab_gpu_check}
rm -rf "$out"
nvidia-smi -L
python3 -m jetlab.cli train --model particlenet --data "$data" --out "$out" --accelerator gpu --devices 1 \
  --strategy ddp --precision bf16-mixed --epochs 3 --batch-size 256 --no-progress
python3 -m jetlab.cli evaluate "$out"
python3 benchmarks/train_throughput.py --device cuda --batch 256 --particles 128 --repeats 10
