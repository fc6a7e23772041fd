import os
import tempfile
import unittest

from tradelab import data


class DataTest(unittest.TestCase):
    def test_generated_prices_are_deterministic_and_positive(self):
        a = data.generate_prices(500, seed=3)
        self.assertEqual(a, data.generate_prices(500, seed=3))
        self.assertNotEqual(a, data.generate_prices(500, seed=4))
        self.assertEqual(len(a), 500)
        self.assertTrue(all(p > 0 for p in a))

    def test_too_short(self):
        with self.assertRaises(ValueError):
            data.generate_prices(1)

    def test_csv_round_trip_and_refusals(self):
        prices = data.generate_prices(50, seed=1)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.csv")
            data.write_csv(path, prices)
            back = data.load_csv(path)
            self.assertEqual(len(back), 50)
            self.assertAlmostEqual(back[10], prices[10], places=5)
            with open(path, "w") as f:
                f.write("date,price\n1,2\n")
            with self.assertRaisesRegex(ValueError, "header"):
                data.load_csv(path)
            with open(path, "w") as f:
                f.write("day,close\n0,1\n1,-3\n")
            with self.assertRaisesRegex(ValueError, ":3: close must be positive"):
                data.load_csv(path)
            with open(path, "w") as f:
                f.write("day,close\n0\n")
            with self.assertRaisesRegex(ValueError, "expected 2 fields"):
                data.load_csv(path)


if __name__ == "__main__":
    unittest.main()
