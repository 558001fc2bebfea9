"""Shared helpers for the deep-learning course workbook.

One module per concern; import what a notebook needs, e.g. ``from helpers import data, train``.

- :mod:`helpers.mode`     quick vs full mode (``WORKBOOK_MODE``) and sizes that depend on it
- :mod:`helpers.device`   device choice (CUDA, then Apple MPS, then CPU) and seeding
- :mod:`helpers.download` checksummed, atomic downloads into the cache
- :mod:`helpers.data`     real datasets (MNIST, CIFAR-10, IMDb, notMNIST, ants/bees, GloVe, weights)
- :mod:`helpers.train`    ``fit`` / ``evaluate`` / ``predict`` training loop
- :mod:`helpers.plots`    training curves, image grids, confusion matrices

Importing this package does no network access and changes no global state.
"""

__version__ = "0.1.0"
