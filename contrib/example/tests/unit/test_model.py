import unittest

from tradelab.model import Model


class ModelTest(unittest.TestCase):
    rows = [[1.0, 0.0], [2.0, 1.0], [-1.0, 0.5], [-2.0, -1.0]] * 10
    labels = [1, 1, 0, 0] * 10

    def test_learns_a_separable_rule(self):
        for kind in ("logistic", "perceptron"):
            m = Model(kind, 2).fit(self.rows, self.labels, epochs=5)
            self.assertEqual(m.accuracy(self.rows, self.labels), 1.0, kind)

    def test_json_round_trip(self):
        m = Model("logistic", 2).fit(self.rows, self.labels, epochs=2)
        back = Model.from_json(m.to_json())
        self.assertEqual(back.kind, "logistic")
        self.assertEqual(back.weights, m.weights)
        self.assertEqual(back.predict([3.0, 1.0]), m.predict([3.0, 1.0]))

    def test_refusals(self):
        with self.assertRaisesRegex(ValueError, "unknown model 'lstm'"):
            Model("lstm", 2)
        with self.assertRaises(ValueError):
            Model("logistic", 2).accuracy([], [])


if __name__ == "__main__":
    unittest.main()
