"""Flax linen layers."""

from isjax.nn.inward_scale import InwardScale
