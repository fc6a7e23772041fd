"""The feature step: log returns, their lags and a moving-average gap."""

import math

FEATURES = ("ret_1", "ret_2", "ret_3", "ma_gap")
WINDOW = 5


def log_returns(prices):
    return [math.log(b / a) for a, b in zip(prices, prices[1:])]


def build(prices):
    """Return (rows, labels): one row of FEATURES per usable day, labelled
    1 when the following day's return is positive."""
    rets = log_returns(prices)
    rows, labels = [], []
    for t in range(WINDOW, len(rets)):
        ma = sum(prices[t + 1 - WINDOW:t + 1]) / WINDOW
        rows.append([rets[t - 1] * 100, rets[t - 2] * 100, rets[t - 3] * 100,
                     (prices[t] / ma - 1) * 100])
        labels.append(1 if rets[t] > 0 else 0)
    return rows, labels


def split(rows, labels, holdout=0.25):
    """Chronological split: the model never sees the future it is scored on."""
    cut = int(len(rows) * (1 - holdout))
    return rows[:cut], labels[:cut], rows[cut:], labels[cut:]
