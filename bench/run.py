r"""Run the benchmarks; write results.json and results.md with every ratio.

  python -m bench                                  # everything
  python -m bench --sections=op,retrieval          # a subset
  python -m bench --tiny --output_dir=/tmp/bench   # tiny sizes, seconds

Each figure is measured beside its reference, in this process. Sections:
  training   Images/s of the jitted training step fed from NumPy, for the
             default config and the CIFAR-size SimpleNet, against the same
             model without IS. Its FLOP rate against a float32 matmul. The
             first step's compile time against one step.
  pipeline   Images/s of the input pipeline alone against the training step.
             Needs tensorflow, and runs the training section too.
  op         The inward_scale forward + backward against autodiff and
             against an elementwise op that moves the same bytes.
  retrieval  Exact top-10 over 10k, 100k and 1M random embeddings (D = 128,
             10k queries) against the bare block matmuls. Time per gallery
             item against the smallest gallery. XLA's memory estimate against
             the size of the gallery.
  scaling    Training-step images/s on 1, 2, 4, 8 fake CPU devices against 1.
"""

import os
import sys
import time

from absl import app
from absl import flags
import jax
from bench import report
from bench import timing

SECTIONS = ("training", "pipeline", "op", "retrieval", "scaling")

_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", "runs/bench", "Directory for results.json and results.md.")
_SECTIONS = flags.DEFINE_list(
    "sections", list(SECTIONS), f"Sections to run, from {', '.join(SECTIONS)}.")
_TINY = flags.DEFINE_bool(
    "tiny", False, "Tiny sizes: checks that the code runs; the figures mean nothing.")
_GALLERIES = flags.DEFINE_list(
    "galleries", None, "Gallery sizes of the retrieval section; default "
    "10000,100000,1000000 (tiny: 100,1000).")
_DEVICE_COUNTS = flags.DEFINE_list(
    "device_counts", None, "Device counts of the scaling section; default "
    "1,2,4,8 (tiny: 1,2).")


class Sizes:
  """How much work each section does."""

  def __init__(self, tiny):
    self.tiny = tiny
    self.training_steps = 2 if tiny else 50
    self.training_repeats = 1 if tiny else 3
    self.matmul_size = 64 if tiny else 2048
    self.pipeline_batches = 3 if tiny else 200
    self.random_cifar10_examples = 64 if tiny else 10_000
    self.op_shape = (64, 32) if tiny else (4096, 1152)
    self.op_repeats = 2 if tiny else 50
    self.queries = 64 if tiny else 10_000
    self.galleries = [100, 1000] if tiny else [10_000, 100_000, 1_000_000]
    self.device_counts = [1, 2] if tiny else [1, 2, 4, 8]
    self.scaling_steps = 2 if tiny else 30


def run_training(sizes, results):
  """Measure each training case with and without IS; return {name: result}."""
  from bench import cases  # pylint: disable=g-import-not-at-top
  from bench import training_speed  # pylint: disable=g-import-not-at-top

  matmul_flops = timing.matmul_flops_per_second(
      sizes.matmul_size, repeats=5 if sizes.tiny else 20)
  measured = {}
  for case in cases.training_cases(tiny=sizes.tiny):
    with_is, without_is = (
        training_speed.measure_training_step(
            variant.config, image_shape=variant.image_shape,
            num_classes=variant.num_classes, steps=sizes.training_steps,
            repeats=sizes.training_repeats)
        for variant in (case, cases.without_inward_scale(case)))
    measured[case.name] = with_is
    batch = f"batch {with_is['batch_size']}"

    results.append(report.measurement(
        "training step", f"{case.name} + IS, {batch}",
        with_is["images_per_second"], "images/s",
        reference="same model without IS",
        reference_value=without_is["images_per_second"]))
    if with_is["flops_per_step"]:
      flop_rate = with_is["flops_per_step"] / (with_is["step_ms"] / 1e3)
      results.append(report.measurement(
          "training step", f"{case.name} + IS, FLOP rate", flop_rate / 1e9,
          "GFLOP/s",
          reference=f"float32 matmul {sizes.matmul_size}²",
          reference_value=matmul_flops / 1e9,
          note=f"XLA counts {with_is['flops_per_step'] / 1e9:.3g} GFLOP/step"))
    results.append(report.measurement(
        "training step", f"{case.name} + IS, compile of the first step",
        with_is["compile_seconds"], "s", reference="one step",
        reference_value=with_is["step_ms"] / 1e3))
  return measured


def run_pipeline(sizes, training, results):
  """Measure the input pipelines against the training step's images/s."""
  from bench import cases  # pylint: disable=g-import-not-at-top
  from bench import pipeline_speed  # pylint: disable=g-import-not-at-top

  default_case, cifar_case = cases.training_cases(tiny=sizes.tiny)
  cifar_dataset, cifar_dir = pipeline_speed.temporary_cifar10_config(
      cifar_case.config, sizes.random_cifar10_examples)
  with cifar_dir:
    for case, dataset_config, source in (
        (default_case, default_case.config.dataset, "mnist5k"),
        (cifar_case, cifar_dataset, "TFDS cifar10 files of random images")):
      batch_size = case.config.batch_size
      images_per_second = pipeline_speed.measure_pipeline(
          dataset_config, batch_size=batch_size,
          batches=sizes.pipeline_batches)
      results.append(report.measurement(
          "input pipeline", f"{source}, batch {batch_size}",
          images_per_second, "images/s",
          reference=f"training step ({case.name} + IS)",
          reference_value=training[case.name]["images_per_second"],
          at_least=5))


def run_op(sizes, results):
  from bench import op_speed  # pylint: disable=g-import-not-at-top

  rows, features = sizes.op_shape
  results.extend(op_speed.benchmark_op(rows, features, repeats=sizes.op_repeats))


def run_retrieval(sizes, results):
  """Time the search per gallery size against block matmuls and the smallest."""
  from bench import retrieval_speed  # pylint: disable=g-import-not-at-top

  smallest = None
  for num_gallery in sizes.galleries:
    # One repetition after the warm-up for galleries whose search takes
    # minutes on a CPU; the ratio to the products is still side by side.
    repeats = 1 if num_gallery >= 1_000_000 else 3
    measured = retrieval_speed.measure_retrieval(
        sizes.queries, num_gallery, repeats=repeats)
    shape = f"{sizes.queries:,} queries × {num_gallery:,} gallery"
    results.append(report.measurement(
        "retrieval", f"top-10, {shape}", measured["search_seconds"], "s",
        reference="block matmuls alone",
        reference_value=measured["products_seconds"], at_most=1.5))

    microseconds_per_item = 1e6 * measured["search_seconds"] / num_gallery
    if smallest is None:
      smallest = (num_gallery, microseconds_per_item)
    else:
      results.append(report.measurement(
          "retrieval", f"time per gallery item, {shape}",
          microseconds_per_item, "µs",
          reference=f"{smallest[0]:,} gallery", reference_value=smallest[1],
          note="1 = linear in the gallery size"))

  # XLA's estimate of the memory the search needs at its peak, largest gallery.
  total_bytes = (measured["argument_bytes"] + measured["temporary_bytes"] +
                 measured["output_bytes"])
  results.append(report.measurement(
      "retrieval", f"peak memory (XLA estimate), {shape}", total_bytes / 1e6,
      "MB", reference="the gallery itself",
      reference_value=measured["gallery_bytes"] / 1e6,
      note=(f"arguments {measured['argument_bytes'] / 1e6:.0f} MB, "
            f"temporaries {measured['temporary_bytes'] / 1e6:.0f} MB, "
            f"outputs {measured['output_bytes'] / 1e6:.1f} MB")))


def run_scaling(sizes, results):
  from bench import device_scaling  # pylint: disable=g-import-not-at-top

  measured = device_scaling.measure_device_scaling(
      sizes.device_counts, steps=sizes.scaling_steps,
      repeats=sizes.training_repeats, tiny=sizes.tiny)
  for result in measured:
    devices = result["devices"]
    results.append(report.measurement(
        "device scaling",
        f"{devices} fake CPU device{'s' if devices > 1 else ''}, "
        f"batch {result['batch_size']}",
        result["images_per_second"], "images/s", reference="1 device",
        reference_value=measured[0]["images_per_second"],
        note="the devices share the same cores"))


def main(argv):
  del argv
  unknown = sorted(set(_SECTIONS.value) - set(SECTIONS))
  if unknown:
    raise app.UsageError(
        f"Unknown --sections {unknown}; choose from {', '.join(SECTIONS)}.")
  sizes = Sizes(_TINY.value)
  if _GALLERIES.value:
    sizes.galleries = [int(size) for size in _GALLERIES.value]
  if _DEVICE_COUNTS.value:
    sizes.device_counts = [int(count) for count in _DEVICE_COUNTS.value]

  start = time.perf_counter()
  measurements = []
  sections = set(_SECTIONS.value)
  if sections & {"training", "pipeline"}:
    training = run_training(sizes, measurements)
  if "pipeline" in sections:
    run_pipeline(sizes, training, measurements)
  if "op" in sections:
    run_op(sizes, measurements)
  if "retrieval" in sections:
    run_retrieval(sizes, measurements)
  if "scaling" in sections:
    run_scaling(sizes, measurements)

  # Only accelerators report memory statistics (None on the CPU).
  memory_stats = jax.devices()[0].memory_stats() or {}
  results = {
      "device_peak_bytes_in_use": memory_stats.get("peak_bytes_in_use"),
      "command": " ".join([os.path.basename(sys.executable), "-m", "bench"] +
                          sys.argv[1:]),
      "tiny": sizes.tiny,
      "seconds": time.perf_counter() - start,
      "environment": report.environment(),
      "measurements": measurements,
  }
  json_path, markdown_path = report.write_results(results, _OUTPUT_DIR.value)
  print(report.to_markdown(results))
  print(f"Wrote {json_path} and {markdown_path}.")


if __name__ == "__main__":
  app.run(main)
