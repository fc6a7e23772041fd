"""Two tiny classifiers trained by gradient steps, saved as JSON."""

import json
import math
import random

KINDS = ("logistic", "perceptron")


class Model:
    def __init__(self, kind, n_features):
        if kind not in KINDS:
            raise ValueError("unknown model %r (known: %s)" % (kind, ", ".join(KINDS)))
        self.kind = kind
        self.weights = [0.0] * n_features
        self.bias = 0.0

    def score(self, row):
        return self.bias + sum(w * x for w, x in zip(self.weights, row))

    def predict(self, row):
        return 1 if self.score(row) > 0 else 0

    def fit(self, rows, labels, epochs=10, rate=0.05, seed=0):
        order = list(range(len(rows)))
        rng = random.Random(seed)
        # The perceptron keeps the average of its weights over every step
        # (the averaged perceptron): the last weights swing with the last
        # few mistakes, the average does not.
        sum_w, sum_b, steps = [0.0] * len(self.weights), 0.0, 0
        for _ in range(epochs):
            rng.shuffle(order)
            for i in order:
                row, y = rows[i], labels[i]
                if self.kind == "logistic":
                    s = max(-30.0, min(30.0, self.score(row)))
                    err = y - 1.0 / (1.0 + math.exp(-s))
                else:
                    err = y - self.predict(row)
                if err:
                    self.weights = [w + rate * err * x for w, x in zip(self.weights, row)]
                    self.bias += rate * err
                sum_w = [a + w for a, w in zip(sum_w, self.weights)]
                sum_b += self.bias
                steps += 1
        if self.kind == "perceptron" and steps:
            self.weights = [a / steps for a in sum_w]
            self.bias = sum_b / steps
        return self

    def accuracy(self, rows, labels):
        if not rows:
            raise ValueError("accuracy of nothing")
        hits = sum(1 for r, y in zip(rows, labels) if self.predict(r) == y)
        return hits / len(rows)

    def to_json(self):
        return json.dumps({"kind": self.kind, "weights": self.weights, "bias": self.bias})

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        m = cls(d["kind"], len(d["weights"]))
        m.weights = [float(w) for w in d["weights"]]
        m.bias = float(d["bias"])
        return m
