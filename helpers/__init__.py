"""Shared helpers for the deep-learning course workbook.

One module per concern; import what a notebook needs, e.g. ``from helpers import data, train``.

- :mod:`helpers.mode`       quick vs full mode (``WORKBOOK_MODE``) and sizes that depend on it
- :mod:`helpers.device`     device choice (CUDA, then Apple MPS, then CPU) and seeding
- :mod:`helpers.download`   checksummed, atomic downloads into the cache; the offline mirror
- :mod:`helpers.data`       real datasets (MNIST, CIFAR-10, IMDb, notMNIST, ants/bees, GloVe, weights)
- :mod:`helpers.text`       tokenizer, vocabulary and padding for the IMDb reviews
- :mod:`helpers.train`      ``train_epoch`` / ``evaluate`` / ``fit`` / ``predict``: the training loop
- :mod:`helpers.augment`    random flips and shifts of image batches, on the device
- :mod:`helpers.models`     the CIFAR ResNet for the pretrained ResNet-20/56 weights
- :mod:`helpers.mobilenet`  ImageNet MobileNetV2: torchvision's weights, or the mirror's 8-bit ones
- :mod:`helpers.metrics`    AUROC, reliability bins and expected calibration error
- :mod:`helpers.plots`      training curves, image grids, confusion matrices
- :mod:`helpers.exercises`  the exercise checkers: ``[PASS]`` / ``[FAIL]`` with a hint, never an exception
- :mod:`helpers.report`     ``headline``: the one line per notebook that the results table reads

Tooling for instructors and maintainers (the notebook runner, the mirror builder) lives in
:mod:`helpers.tools`, which notebooks never import.

Importing this package does no network access and changes no global state.
"""

__version__ = "0.1.0"
