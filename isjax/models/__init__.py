"""Model architectures and `create_model`, which builds one from a config.

"The paper" in this package is Janjua et al., "Learning Inward Scaled
Hypersphere Embedding: Exploring Projections in Higher Dimensions",
arXiv:1810.07037 (2018).
"""

from isjax.models.googlenet import GoogLeNet
from isjax.models.head import InwardScaleHead
from isjax.models.lenet import LeNet
from isjax.models.simplenet import SimpleNet

MODELS = {"simplenet": SimpleNet, "lenet": LeNet, "googlenet": GoogLeNet}

# Config fields that every model takes; the rest are architecture-specific.
_COMMON_FIELDS = ("use_inward_scale", "xi", "eps", "gradient", "embedding_dim")
_SPECIFIC_FIELDS = {
    "simplenet": ("conv_features", "kernel_size"),
    "lenet": (),
    "googlenet": (),
}


def create_model(model_config, num_classes):
  """Build the linen module named by `model_config.name`.

  Args:
    model_config: the `config.model` ConfigDict (name, use_inward_scale, xi,
      eps, gradient, embedding_dim and the architecture's own fields).
    num_classes: size of the classifier output.

  Returns:
    An unbound `flax.linen.Module` whose call returns a dict of named outputs.
  """
  name = model_config.name
  if name not in MODELS:
    raise ValueError(
        f"Unknown model name {name!r}; valid names are {sorted(MODELS)}. "
        "Set --config.model.name.")
  if model_config.xi <= 0:
    raise ValueError(
        f"model.xi must be > 0, got {model_config.xi}. The paper uses 100.")

  kwargs = {}
  for field in _COMMON_FIELDS + _SPECIFIC_FIELDS[name]:
    if field in model_config:
      value = model_config[field]
      kwargs[field] = tuple(value) if isinstance(value, list) else value
  return MODELS[name](num_classes=num_classes, **kwargs)


def output_names(model_config):
  """Names of the outputs a model built from `model_config` returns."""
  names = ["features"]
  if model_config.use_inward_scale:
    names.append("inward_scaled")
  return tuple(names + ["embedding", "logits"])
