"""End to end: prices on disk -> train CLI -> saved model -> predictions."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

from tradelab import data, features
from tradelab.model import Model

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


class PipelineTest(unittest.TestCase):
    def run_train(self, *args):
        env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC))
        return subprocess.run([sys.executable, "-m", "tradelab.train", *args],
                              env=env, capture_output=True, text=True, timeout=120)

    def test_train_from_csv_and_reload(self):
        with tempfile.TemporaryDirectory() as d:
            csv_path = os.path.join(d, "prices.csv")
            data.write_csv(csv_path, data.generate_prices(2000, seed=11))
            out = os.path.join(d, "model")
            r = self.run_train("--prices", csv_path, "--epochs", "3", "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            metrics = json.load(open(os.path.join(out, "metrics.json")))
            self.assertGreaterEqual(metrics["test_accuracy"], 0.55)
            m = Model.from_json(open(os.path.join(out, "model.json")).read())
            rows, labels = features.build(data.load_csv(csv_path))
            self.assertAlmostEqual(m.accuracy(rows[-metrics["test_rows"]:],
                                              labels[-metrics["test_rows"]:]),
                                   metrics["test_accuracy"], places=3)

    def test_unlearnable_prices_fail_the_gate(self):
        with tempfile.TemporaryDirectory() as d:
            r = self.run_train("--days", "600", "--min-accuracy", "0.99",
                               "--out", os.path.join(d, "m"))
            self.assertEqual(r.returncode, 1)
            self.assertIn("below 0.99", r.stderr)


if __name__ == "__main__":
    unittest.main()
