"""The op, layers, models, losses and kNN work where tensorflow is missing."""

import os
import subprocess
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPOSITORY, "tests", "scripts", "without_tensorflow.py")


def run_without_tensorflow(*arguments):
  return subprocess.run(
      [sys.executable, SCRIPT, *arguments], capture_output=True, text=True,
      timeout=300, check=False, cwd=REPOSITORY,
      env={**os.environ, "PYTHONPATH": REPOSITORY})


def test_library_runs_without_tensorflow():
  completed = run_without_tensorflow()
  assert completed.returncode == 0, completed.stderr[-3000:]
  assert completed.stdout.strip().endswith("ok")


def test_data_package_needs_tensorflow():
  # The block is real: the data pipeline, which needs tensorflow, fails.
  completed = subprocess.run(
      [sys.executable, "-c",
       "import runpy, sys; sys.argv = ['x']; "
       f"runpy.run_path({SCRIPT!r}); import isjax.data"],
      capture_output=True, text=True, timeout=300, check=False,
      cwd=REPOSITORY, env={**os.environ, "PYTHONPATH": REPOSITORY})
  assert completed.returncode != 0
  assert "tensorflow" in completed.stderr
