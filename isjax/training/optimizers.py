"""Adam with coupled or decoupled weight decay and a learning-rate schedule."""

import optax

SCHEDULES = ("constant", "cosine", "warmup_cosine")
WEIGHT_DECAY_MODES = ("coupled", "decoupled")


def create_learning_rate_schedule(optimizer_config, total_steps, steps_per_epoch):
  """Return an optax schedule named by `optimizer_config.schedule`.

  ``cosine`` decays from `learning_rate` to 0 over `total_steps`;
  ``warmup_cosine`` first rises linearly over `warmup_epochs`.
  """
  base = optimizer_config.learning_rate
  name = optimizer_config.schedule
  if name == "constant":
    return optax.constant_schedule(base)
  if name == "cosine":
    return optax.cosine_decay_schedule(base, decay_steps=max(total_steps, 1))
  if name == "warmup_cosine":
    warmup_steps = int(optimizer_config.warmup_epochs * steps_per_epoch)
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=base,
        warmup_steps=warmup_steps,
        decay_steps=max(total_steps, warmup_steps + 1))
  raise ValueError(
      f"Unknown optimizer.schedule {name!r}; valid schedules are {SCHEDULES}.")


def create_optimizer(optimizer_config, total_steps, steps_per_epoch):
  """Return the Adam optimizer of the paper's Sec. 4.1 and its schedule.

  The paper trains with Adam at an initial learning rate of 1e-2 and weight
  decay "to prevent indefinite growing of ||x||". Both readings of weight decay
  are available: ``coupled`` adds `weight_decay * params` to the gradient
  before Adam's scaling (L2 regularisation, as in `torch.optim.Adam`), and
  ``decoupled`` is AdamW (Loshchilov & Hutter 2019), whose decay is multiplied
  by the learning rate but not rescaled by Adam.

  Returns:
    (optax.GradientTransformation, schedule function of the step).
  """
  schedule = create_learning_rate_schedule(
      optimizer_config, total_steps, steps_per_epoch)
  decay = optimizer_config.weight_decay
  mode = optimizer_config.weight_decay_mode
  if decay < 0:
    raise ValueError(f"optimizer.weight_decay must be >= 0, got {decay}.")

  if mode == "coupled":
    transform = optax.chain(
        optax.add_decayed_weights(decay),
        optax.scale_by_adam(),
        optax.scale_by_learning_rate(schedule))
  elif mode == "decoupled":
    transform = optax.adamw(schedule, weight_decay=decay)
  else:
    raise ValueError(
        f"Unknown optimizer.weight_decay_mode {mode!r}; valid modes are "
        f"{WEIGHT_DECAY_MODES}.")
  return transform, schedule
