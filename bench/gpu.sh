#!/usr/bin/env bash
# Run the training-step, op and retrieval benchmarks on one GPU.
# NOTE: not yet run on a GPU. The timeout below keeps it within 8 minutes.
#
#   bash bench/gpu.sh [OUTPUT_DIR]      # default: $OUT if set, else runs/bench_gpu
#
# Needs jax with CUDA, flax, optax, chex and orbax-checkpoint, but neither
# tensorflow nor tensorflow-datasets: the training step is fed from NumPy and
# the input-pipeline and fake-device sections are left out. ml-collections, which
# the configs use, is installed from a carried wheel when missing; fetch it on
# a machine with network access with
#   pip download ml-collections --no-deps -d .whl
set -euo pipefail
cd "$(dirname "$0")/.."

output_dir="${1:-${OUT:-runs/bench_gpu}}"
python="${PYTHON:-python3}"

if ! "$python" -c "import ml_collections" 2>/dev/null; then
  wheels=(.whl/ml_collections-*.whl)
  if [[ ! -e "${wheels[0]}" ]]; then
    echo "ml_collections is not installed and no wheel was found in .whl/." >&2
    echo "Run 'pip download ml-collections --no-deps -d .whl' and carry .whl." >&2
    exit 1
  fi
  "$python" -m pip install --quiet --no-index --no-deps "${wheels[0]}"
fi

"$python" - <<'PY'
import jax
if jax.default_backend() != "gpu":
  raise SystemExit(f"No GPU visible to JAX: devices are {jax.devices()}.")
print("GPU:", jax.devices()[0].device_kind)
PY

# The limit leaves a margin under 8 minutes for the start and the transfers.
timeout 420 "$python" -m bench --sections=training,op,retrieval \
  --output_dir="$output_dir"
