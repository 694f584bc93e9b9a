"""Training: state, sharded steps, checkpoints, metrics and the loop."""

from isjax.training.loop import NonFiniteLossError
from isjax.training.loop import evaluate
from isjax.training.loop import train_and_evaluate
