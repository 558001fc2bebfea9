import numpy as np
import pytest

from helpers import metrics


def test_auroc_known_values():
    assert metrics.auroc([0, 1, 2], [3, 4]) == 1.0
    assert metrics.auroc([3, 4], [0, 1, 2]) == 0.0
    assert metrics.auroc([1, 1], [1, 1]) == 0.5  # all tied
    assert metrics.auroc([0, 2], [1, 3]) == 0.75  # 3 of 4 pairs ordered
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), rng.normal(1, size=400)
    pairs = np.mean(b[:, None] > a[None, :])
    assert metrics.auroc(a, b) == pytest.approx(pairs)
    with pytest.raises(ValueError, match="each group"):
        metrics.auroc([], [1])


def test_calibration():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])
    # bin ~0.9: acc 0.5, conf 0.9 → 0.4; bin ~0.6: acc 1, conf 0.6 → 0.4; ECE = 0.4
    assert metrics.expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.4)
    perfect = np.array([[1.0, 0.0]] * 3)
    assert metrics.expected_calibration_error(perfect, np.zeros(3, int)) == 0
    r = metrics.reliability(probs, labels, n_bins=10)
    assert r["count"].sum() == 4 and np.nansum(r["accuracy"] * r["count"]) == 3
