import unittest

from words import count_words


class T(unittest.TestCase):
    def test_case(self):
        self.assertEqual(count_words("The cat and the hat")["the"], 2)
