"""Experiment configs, one per table of the paper they reproduce.

"The paper" in these files is M. K. Janjua, S. Nawaz, A. Calefati, I. Gallo,
"Learning Inward Scaled Hypersphere Embedding: Exploring Projections in Higher
Dimensions", arXiv:1810.07037 (2018). Each config stores the paper's number in
`config.paper`, and `results.json` repeats it beside the measured one.
"""
