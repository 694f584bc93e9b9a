r"""Run the README's main job for several seeds, with and without IS(x, ξ).

Each run is `python train.py --config configs/default.py` in a fresh process,
timed from start to exit (imports and compilation included). Prints a
markdown table and writes the numbers to --output as JSON.

  python -m bench.default_runs --seeds=0,1,2 --output=runs/default_runs.json
"""

import json
import os
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags

_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Training seeds.")
_WORKDIR_ROOT = flags.DEFINE_string(
    "workdir_root", "runs/default_runs", "Parent of the runs' workdirs.")
_OUTPUT = flags.DEFINE_string("output", None, "Write the results as JSON here.")
_CONFIG = flags.DEFINE_string("config", "configs/default.py", "Config file.")

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_training(seed, use_inward_scale):
  """Train one seed in a fresh process; return its wall time and results."""
  name = f"seed{seed}_{'is' if use_inward_scale else 'no_is'}"
  workdir = os.path.join(_WORKDIR_ROOT.value, name)
  if os.path.exists(os.path.join(workdir, "checkpoints")):
    raise FileExistsError(
        f"{workdir} already has checkpoints, so the run would resume instead "
        "of training from scratch. Remove it or choose another --workdir_root.")

  command = [sys.executable, os.path.join(REPOSITORY, "train.py"),
             "--config", _CONFIG.value, "--workdir", workdir,
             f"--config.seed={seed}",
             f"--config.model.use_inward_scale={use_inward_scale}"]
  start = time.perf_counter()
  subprocess.run(command, check=True, cwd=REPOSITORY,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  wall_seconds = time.perf_counter() - start

  with open(os.path.join(workdir, "results.json")) as results_file:
    results = json.load(results_file)
  return {"seed": int(seed), "use_inward_scale": use_inward_scale,
          "wall_seconds": wall_seconds,
          "eval_accuracy": results["eval_accuracy"]}


def main(argv):
  del argv
  runs = []
  for use_inward_scale in (True, False):
    for seed in _SEEDS.value:
      runs.append(run_training(seed, use_inward_scale))
      print(json.dumps(runs[-1]), flush=True)

  print("\n| IS(x, ξ) | seeds | eval_accuracy (median) | per seed | wall time (median) |")
  print("| --- | --- | --- | --- | --- |")
  for use_inward_scale in (True, False):
    selected = [run for run in runs if run["use_inward_scale"] == use_inward_scale]
    accuracies = [run["eval_accuracy"] for run in selected]
    seconds = [run["wall_seconds"] for run in selected]
    per_seed = ", ".join(f"{100 * accuracy:.1f}%" for accuracy in accuracies)
    print(f"| {'with' if use_inward_scale else 'without'} | {len(selected)} | "
          f"{100 * statistics.median(accuracies):.1f}% | {per_seed} | "
          f"{statistics.median(seconds):.0f} s |")

  if _OUTPUT.value:
    with open(_OUTPUT.value, "w") as output_file:
      json.dump(runs, output_file, indent=2)


if __name__ == "__main__":
  app.run(main)
