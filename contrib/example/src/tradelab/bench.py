"""Performance check: features and predictions for many days within a budget.

    python -m tradelab.bench --days 20000 --budget-ms 2000
"""

import argparse
import sys
import time

from . import data, features
from .model import Model


def main(argv=None):
    p = argparse.ArgumentParser(prog="tradelab.bench")
    p.add_argument("--days", type=int, default=20000)
    p.add_argument("--budget-ms", type=float, default=3000)
    a = p.parse_args(argv)
    prices = data.generate_prices(a.days, seed=1)
    m = Model("logistic", len(features.FEATURES))
    t0 = time.perf_counter()
    rows, _ = features.build(prices)
    ups = sum(m.predict(r) for r in rows)
    ms = (time.perf_counter() - t0) * 1000
    print("%d days: features+predict %.1f ms (budget %.0f ms), %d up" % (a.days, ms, a.budget_ms, ups))
    if ms > a.budget_ms:
        print("error: over budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
