r"""Training-step throughput on 1, 2, 4 and 8 devices, one process per count.

The device count of the CPU backend is fixed when JAX starts, so every count
runs `python -m bench.device_scaling_worker --devices=N` in a fresh process with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``, which prints one JSON
line from `training_speed.measure_training_step`. The global batch stays the
same, so the devices split it (strong scaling). Fake CPU devices share the
machine's cores, so these figures show the overhead of sharding, not a
speed-up.
"""

import json
import os
import subprocess
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure_device_scaling(device_counts, *, steps, repeats, tiny=False):
  """Return one `measure_training_step` dict per device count."""
  results = []
  for count in device_counts:
    environment = dict(os.environ)
    environment["JAX_PLATFORMS"] = "cpu"
    environment["XLA_FLAGS"] = (
        environment.get("XLA_FLAGS", "") +
        f" --xla_force_host_platform_device_count={count}").strip()
    command = [sys.executable, "-m", "bench.device_scaling_worker",
               f"--devices={count}", f"--steps={steps}",
               f"--repeats={repeats}", f"--tiny={tiny}"]
    completed = subprocess.run(
        command, cwd=REPOSITORY, env=environment, check=True,
        stdout=subprocess.PIPE, text=True)
    results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
  return results
