import contextlib
import io
import json
import os
import tempfile
import unittest

from tradelab import bench, train


class CliTest(unittest.TestCase):
    def test_train_writes_model_and_metrics(self):
        with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()) as out:
            rc = train.main(["--model", "perceptron", "--epochs", "2", "--days", "800", "--out", d])
            self.assertEqual(rc, 0)
            self.assertIn("model=perceptron epochs=2", out.getvalue())
            metrics = json.load(open(os.path.join(d, "metrics.json")))
            self.assertEqual(metrics["model"], "perceptron")
            self.assertTrue(os.path.exists(os.path.join(d, "model.json")))

    def test_train_gate(self):
        with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()) as err:
            self.assertEqual(train.main(["--days", "300", "--min-accuracy", "1.01", "--out", d]), 1)
            self.assertIn("below", err.getvalue())

    def test_bench_budget(self):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(bench.main(["--days", "500"]), 0)
            self.assertEqual(bench.main(["--days", "500", "--budget-ms", "0"]), 1)


if __name__ == "__main__":
    unittest.main()
