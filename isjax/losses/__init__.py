"""Training losses: softmax cross-entropy, contrastive loss and center loss.

The contrastive and center losses are imported lazily by their modules'
names (`isjax.losses.contrastive`, `isjax.losses.center`).
"""

from isjax.losses.softmax import softmax_cross_entropy
