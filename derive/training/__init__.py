"""Training any generated cell with its derived gradients, in NumPy alone.

One job per module: ``tasks`` makes the data (the adding problem and the review
corpus, whose rules live in ``corpus``), ``model`` puts an embedding or the raw
input before the cell and a linear read-out and a loss after it, ``adam`` updates
the parameters, ``loop`` runs the steps and logs them, and ``experiments`` holds
the runs whose records the site reads (the long-lag race and the review).

The cell's gradients are its generated module's ``backward``; only the layers
around it have hand-written gradients, checked against finite differences in
tests/test_training.py.
"""
