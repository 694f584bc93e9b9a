"""Measurements with their reference and ratio, as JSON and a markdown table."""

import json
import os
import platform

import jax


def measurement(benchmark, case, value, unit, *, reference=None,
                reference_value=None, at_most=None, at_least=None, note=None):
  """Return one row of the results: a figure, its reference and their ratio.

  Args:
    benchmark: the section, e.g. "op" or "retrieval".
    case: what was measured, e.g. "appendix custom_vjp, fwd+bwd".
    value: the figure, in `unit`.
    unit: e.g. "ms" or "images/s".
    reference: what the figure is compared with, measured in the same run.
    reference_value: the reference's figure in the same unit as `value`.
    at_most: target for ratio = value / reference_value, if it has an upper one.
    at_least: target for the ratio, if it has a lower one.
    note: a short remark printed beside the row.

  Returns:
    A JSON-serialisable dict; "target_met" is None when there is no target.
  """
  ratio = None
  if reference_value:
    ratio = value / reference_value

  target_met = None
  if ratio is not None and at_most is not None:
    target_met = ratio <= at_most
  if ratio is not None and at_least is not None:
    target_met = ratio >= at_least
  return {
      "benchmark": benchmark,
      "case": case,
      "value": value,
      "unit": unit,
      "reference": reference,
      "reference_value": reference_value,
      "ratio": ratio,
      "target_at_most": at_most,
      "target_at_least": at_least,
      "target_met": target_met,
      "note": note,
  }


def environment():
  """Return the software and hardware the figures were measured on."""
  device = jax.devices()[0]
  return {
      "jax": jax.__version__,
      "platform": device.platform,
      "device_kind": device.device_kind,
      "device_count": jax.device_count(),
      "cpu_count": os.cpu_count(),
      "python": platform.python_version(),
      "machine": platform.machine(),
  }


def _format_number(value):
  if value is None:
    return "–"
  if isinstance(value, str):
    return value
  if value == 0 or 0.01 <= abs(value) < 1e5:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
  return f"{value:.3g}"


def _format_target(row):
  if row["target_at_most"] is not None:
    target = f"≤ {row['target_at_most']:g}"
  elif row["target_at_least"] is not None:
    target = f"≥ {row['target_at_least']:g}"
  else:
    return "–"
  return f"{target} {'met' if row['target_met'] else 'MISSED'}"


def to_markdown(results):
  """Return the results as a markdown table, one line per measurement."""
  lines = [
      "| benchmark | case | measured | reference | ratio | target | note |",
      "|---|---|---|---|---|---|---|",
  ]
  for row in results["measurements"]:
    measured = f"{_format_number(row['value'])} {row['unit']}"
    reference = "–"
    if row["reference"] is not None:
      reference = (f"{row['reference']}: "
                   f"{_format_number(row['reference_value'])} {row['unit']}")
    ratio = "–" if row["ratio"] is None else f"{row['ratio']:.3g}"
    lines.append(
        f"| {row['benchmark']} | {row['case']} | {measured} | {reference} | "
        f"{ratio} | {_format_target(row)} | {row['note'] or ''} |")

  env = results["environment"]
  lines.append("")
  lines.append(
      f"Measured with jax {env['jax']} on {env['device_count']} × "
      f"{env['device_kind']} ({env['platform']}), {env['cpu_count']} CPU "
      f"cores, {env['machine']}, Python {env['python']}.")
  return "\n".join(lines) + "\n"


def write_results(results, output_dir):
  """Write `results.json` and `results.md` into `output_dir`; return both paths."""
  os.makedirs(output_dir, exist_ok=True)
  json_path = os.path.join(output_dir, "results.json")
  markdown_path = os.path.join(output_dir, "results.md")
  with open(json_path, "w") as json_file:
    json.dump(results, json_file, indent=2)
    json_file.write("\n")
  with open(markdown_path, "w") as markdown_file:
    markdown_file.write(to_markdown(results))
  return json_path, markdown_path
