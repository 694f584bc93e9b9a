"""`python -m bench`: run the benchmarks (see bench/run.py)."""

from absl import app

from bench import run

if __name__ == "__main__":
  app.run(run.main)
