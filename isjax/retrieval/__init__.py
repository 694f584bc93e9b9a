"""Retrieval evaluation: exact blockwise k-nearest neighbours and metrics."""

from isjax.retrieval.knn import DISTANCES
from isjax.retrieval.knn import nearest_neighbors
from isjax.retrieval.metrics import compute_retrieval_metrics
from isjax.retrieval.metrics import count_relevant
from isjax.retrieval.metrics import retrieval_metrics_from_neighbors
