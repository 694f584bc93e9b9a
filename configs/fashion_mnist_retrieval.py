r"""SimpleNet + IS(x, ξ) trained with softmax and contrastive loss for retrieval.

The paper's Sec. 4.5 and Table 6: Fashion-MNIST, Euclidean nearest neighbours
among the test images. Paper, with IS / without IS: Recall@1 88.75 / 86.75,
Recall@5 95.88 / 95.63, Recall@10 97.33 / 97.22, TP@1 89.74 / 86.70,
TP@5 89.90 / 86.60, TP@10 90.00 / 85.60 (percent).

  python train.py --config configs/fashion_mnist_retrieval.py \
      --workdir runs/fashion_retrieval
  python eval_retrieval.py --workdir runs/fashion_retrieval
Without IS: add --config.model.use_inward_scale=False (and another --workdir).
"""

from configs import default
from configs import paper_reference

PAPER_WITH_IS = {"recall@1": 0.8875, "recall@5": 0.9588, "recall@10": 0.9733,
                 "tp@1": 0.8974, "tp@5": 0.8990, "tp@10": 0.9000}
PAPER_WITHOUT_IS = {"recall@1": 0.8675, "recall@5": 0.9563,
                    "recall@10": 0.9722, "tp@1": 0.8670, "tp@5": 0.8660,
                    "tp@10": 0.8560}


def get_config():
  """Return the Fashion-MNIST retrieval configuration."""
  config = default.get_config()
  # The full dataset affords wider blocks than the CPU default.
  config.model.conv_features = (32, 64, 128)
  config.batch_size = 128
  config.dataset.name = "fashion_mnist"
  config.num_epochs = 30
  # The paper gives no weight or margin; contrastive pairs are all pairs of a
  # batch, on the embedding (after dense and PReLU).
  config.loss.contrastive_weight = 1.0
  config.loss.contrastive_margin = 1.0
  config.paper = paper_reference.create_retrieval(
      "Table 6", "fashion_mnist", PAPER_WITH_IS, PAPER_WITHOUT_IS)
  return config
