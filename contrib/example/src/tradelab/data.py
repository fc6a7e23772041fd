"""Price series: generated for tests and training, read and written as CSV."""

import csv
import math
import random


def generate_prices(n, seed=0, start=100.0, persistence=0.5, volatility=0.01):
    """Return n closing prices whose daily returns follow an AR(1) process.

    The persistence makes yesterday's return carry information about
    today's, so a model has something real to learn.
    """
    if n < 2:
        raise ValueError("generate_prices: need at least 2 prices, got %d" % n)
    rng = random.Random(seed)
    prices = [start]
    ret = 0.0
    for _ in range(n - 1):
        ret = persistence * ret + rng.gauss(0.0, volatility)
        prices.append(prices[-1] * math.exp(ret))
    return prices


def write_csv(path, prices):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["day", "close"])
        for day, close in enumerate(prices):
            w.writerow([day, "%.6f" % close])


def load_csv(path):
    """Read the closes of a day,close CSV, checking it is well formed."""
    prices = []
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header != ["day", "close"]:
            raise ValueError("%s: expected header day,close, got %r" % (path, header))
        for lineno, row in enumerate(rows, start=2):
            if len(row) != 2:
                raise ValueError("%s:%d: expected 2 fields" % (path, lineno))
            close = float(row[1])
            if not close > 0:
                raise ValueError("%s:%d: close must be positive" % (path, lineno))
            prices.append(close)
    return prices
