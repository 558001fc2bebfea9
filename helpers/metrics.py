"""Evaluation metrics the uncertainty notebooks share: AUROC and calibration."""

from __future__ import annotations

import numpy as np


def auroc(scores_negative, scores_positive) -> float:
    """Area under the ROC curve for telling positives (e.g. out-of-distribution) from negatives.

    Equals the probability that a random positive scores higher than a random negative (ties
    count ½): the Mann–Whitney U statistic divided by n_pos·n_neg. 0.5 = chance, 1.0 = perfect.
    """
    neg, pos = np.asarray(scores_negative, float).ravel(), np.asarray(scores_positive, float).ravel()
    if len(neg) == 0 or len(pos) == 0:
        raise ValueError("auroc needs at least one score in each group")
    scores = np.concatenate([neg, pos])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2 + 1
    ranks[order] = np.repeat(avg, counts)
    u = ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def reliability(probs, labels, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Confidence bins for a reliability diagram.

    Args:
        probs: (N, K) predicted probabilities; labels: (N,) true classes.

    Returns:
        ``{"confidence", "accuracy", "count", "edges"}``: per bin the mean confidence (max
        probability), the accuracy, and the number of examples (empty bins have NaN means).
    """
    probs, labels = np.asarray(probs, float), np.asarray(labels)
    conf, correct = probs.max(1), (probs.argmax(1) == labels).astype(float)
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        mean_conf = np.bincount(which, conf, n_bins) / count
        acc = np.bincount(which, correct, n_bins) / count
    return {"confidence": mean_conf, "accuracy": acc, "count": count, "edges": edges}


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """ECE: the count-weighted mean |accuracy − confidence| over confidence bins (0 = calibrated)."""
    r = reliability(probs, labels, n_bins)
    used = r["count"] > 0
    return float(
        np.sum(r["count"][used] * np.abs(r["accuracy"][used] - r["confidence"][used])) / r["count"].sum()
    )
