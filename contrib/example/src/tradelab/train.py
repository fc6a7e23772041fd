"""Train a model on generated prices; write model.json and metrics.json.

    python -m tradelab.train --model logistic --epochs 5 --out build/model

Exits 1 when the holdout accuracy is below --min-accuracy, so a broken
model fails the pipeline instead of being shipped.
"""

import argparse
import json
import os
import sys
import time

from . import data, features
from .model import KINDS, Model


def main(argv=None):
    p = argparse.ArgumentParser(prog="tradelab.train")
    p.add_argument("--model", choices=KINDS, default="logistic")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--days", type=int, default=3000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--prices", help="a day,close CSV instead of generated prices")
    p.add_argument("--min-accuracy", type=float, default=0.55)
    p.add_argument("--out", default="build/model")
    a = p.parse_args(argv)

    t0 = time.monotonic()
    prices = data.load_csv(a.prices) if a.prices else data.generate_prices(a.days, seed=a.seed)
    rows, labels = features.build(prices)
    tr_x, tr_y, te_x, te_y = features.split(rows, labels)
    m = Model(a.model, len(features.FEATURES)).fit(tr_x, tr_y, epochs=a.epochs, seed=a.seed)
    metrics = {
        "model": a.model,
        "epochs": a.epochs,
        "train_rows": len(tr_x),
        "test_rows": len(te_x),
        "train_accuracy": round(m.accuracy(tr_x, tr_y), 4),
        "test_accuracy": round(m.accuracy(te_x, te_y), 4),
        "seconds": round(time.monotonic() - t0, 3),
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "model.json"), "w") as f:
        f.write(m.to_json() + "\n")
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")
    print("model=%s epochs=%d test_accuracy=%.4f (%d rows) -> %s"
          % (a.model, a.epochs, metrics["test_accuracy"], len(te_x), a.out))
    if metrics["test_accuracy"] < a.min_accuracy:
        print("error: test accuracy %.4f below %.2f" % (metrics["test_accuracy"], a.min_accuracy),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
