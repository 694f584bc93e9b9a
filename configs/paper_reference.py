"""The paper's reported numbers, stored in a config and copied into results.json."""

import ml_collections


def create(table, dataset, eval_accuracy_with_is, eval_accuracy_without_is):
  """Return a `config.paper` block with the paper's test accuracies (fractions)."""
  return ml_collections.ConfigDict({
      "table": table,
      "dataset": dataset,
      "eval_accuracy_with_is": eval_accuracy_with_is,
      "eval_accuracy_without_is": eval_accuracy_without_is,
  })


def create_retrieval(table, dataset, with_is, without_is):
  """Return a `config.paper` block with retrieval metrics (fractions).

  Args:
    table: where the paper reports them, e.g. "Table 6".
    dataset: the dataset the paper used.
    with_is: {"recall@K": ..., "tp@K": ...} with IS(x, ξ).
    without_is: the same keys without it.
  """
  return ml_collections.ConfigDict({
      "table": table,
      "dataset": dataset,
      "retrieval_with_is": with_is,
      "retrieval_without_is": without_is,
  })
