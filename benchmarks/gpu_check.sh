#!/usr/bin/env bash
# The GPU checks of the teacher recipe, in one script (benchmarks/README, "GPU: the teacher in
# minutes, and int8_float16 against torch fp16"):
#   1. the default (CTranslate2 int8 weights, served as int8_float16) against its unconverted
#      twin served by torch in float16 (skipped without DEFAULT_TWIN);
#   2. the MPNet teacher recipe of benchmarks/README ("MPNet teacher") trained on the GPU, bf16
#      autocast; train_seconds in its record, compared with the CPU records of the same command;
#   3. that teacher on CTranslate2 int8_float16 against torch float16;
#   4. one table of it all (gpu_summary.py).
#
#   bash benchmarks/gpu_check.sh OUT [MPNET] [DEFAULT_TWIN]
#
# MPNET: the warm start (default: the 'mpnet' alias, an optional install); DEFAULT_TWIN: the
# default's unconverted checkpoint (train_default.py leaves it in OUT/hf). Data: ../shared/data
# or $FSA_EDGE_DATA. The teacher recipe still finishes on a 2-core CPU (hours: run it in the
# background, it resumes); this script wants CUDA.
set -euo pipefail
OUT=${1:?usage: bash benchmarks/gpu_check.sh OUT [MPNET] [DEFAULT_TWIN]}
MPNET=${2:-mpnet}
TWIN=${3:-}
DATA=${FSA_EDGE_DATA:-../shared/data}
PY=${PYTHON:-python}
RESULTS=benchmarks/results
mkdir -p "$OUT"
$PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check.sh: no CUDA device')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" || true

speeds=()
if [ -n "$TWIN" ]; then
  $PY benchmarks/default_speed.py --device cuda --threads 4 --repeats 3 \
    --model default --compute-type int8_float16 --model "$TWIN" --compute-type float16 \
    --out "$OUT/gpu_speed_default"
  speeds+=(--speed "default=$OUT/gpu_speed_default.json")
fi

$PY benchmarks/train_default.py --out "$OUT/teacher" --student "$MPNET" --epochs 10 --lr 5e-05 \
  --ema 0.999 --datasets rest14,laptop14,rest16,laptop16 --data "$DATA" --threads 16 \
  --device cuda --precision bf16 --min-agreement 0.8 --max-mean-delta 0.1 \
  --record "$OUT/teacher_mpnet_gpu_bf16_e10.json"

$PY benchmarks/default_speed.py --device cuda --threads 4 --repeats 3 \
  --model "$OUT/teacher/ct2-int8" --compute-type int8_float16 \
  --model "$OUT/teacher/hf" --compute-type float16 --out "$OUT/gpu_speed_teacher"
speeds+=(--speed "teacher=$OUT/gpu_speed_teacher.json")

$PY benchmarks/gpu_summary.py --gpu-teacher "$OUT/teacher_mpnet_gpu_bf16_e10.json" \
  --cpu-teacher "cpu bf16 (2-core AMX Xeon)=$RESULTS/teacher_mpnet_bf16_e10_s21.json" \
  --cpu-teacher "cpu fp32 (2-core AVX2 EPYC)=$RESULTS/teacher_mpnet_fp32_e10.json" \
  "${speeds[@]}" --out "$OUT/gpu_check"
