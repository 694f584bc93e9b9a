"""Run a test script in a fresh process that sees 8 fake CPU devices."""

import os
import subprocess
import sys

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_on_eight_devices(arguments):
  """Run `python ARGUMENTS` with 8 fake CPU devices; return the CompletedProcess.

  A fresh process is needed because the device count must be set before JAX
  initialises its backend, and the test session already has one device.
  """
  environment = dict(os.environ)
  environment["XLA_FLAGS"] = (environment.get("XLA_FLAGS", "") +
                              " --xla_force_host_platform_device_count=8")
  environment["JAX_PLATFORMS"] = "cpu"
  environment["PYTHONPATH"] = os.pathsep.join(
      filter(None, [REPOSITORY_ROOT, environment.get("PYTHONPATH")]))
  return subprocess.run(
      [sys.executable, *arguments], env=environment, capture_output=True,
      text=True, timeout=600, check=False, cwd=REPOSITORY_ROOT)
