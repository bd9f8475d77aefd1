import unittest

from slug import slugify


class T(unittest.TestCase):
    def test_strips_dashes(self):
        self.assertEqual(slugify("  Hello, World! "), "hello-world")
