"""Training losses: softmax cross-entropy, contrastive loss and center loss."""

from isjax.losses.center import center_loss
from isjax.losses.center import update_centers
from isjax.losses.contrastive import contrastive_loss
from isjax.losses.softmax import softmax_cross_entropy
