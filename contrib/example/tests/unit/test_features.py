import math
import unittest

from tradelab import features


class FeaturesTest(unittest.TestCase):
    def test_returns(self):
        r = features.log_returns([100, 110, 99])
        self.assertAlmostEqual(r[0], math.log(1.1))
        self.assertAlmostEqual(r[1], math.log(0.9))

    def test_rows_and_labels_align(self):
        prices = [100, 101, 102, 101, 103, 104, 103, 105, 106, 104]
        rows, labels = features.build(prices)
        self.assertEqual(len(rows), len(labels))
        self.assertEqual(len(rows), len(prices) - 1 - features.WINDOW)
        self.assertEqual(len(rows[0]), len(features.FEATURES))
        # The first row predicts the move from prices[5] to prices[6] (down)
        # from the return into prices[5] (up).
        self.assertEqual(labels[0], 0)
        self.assertGreater(rows[0][0], 0)

    def test_split_is_chronological(self):
        rows = [[i] for i in range(8)]
        a, ay, b, by = features.split(rows, list(range(8)))
        self.assertEqual(a + b, rows)
        self.assertEqual(len(b), 2)
        self.assertEqual(by, [6, 7])


if __name__ == "__main__":
    unittest.main()
