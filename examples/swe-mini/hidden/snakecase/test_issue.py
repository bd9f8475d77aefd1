import unittest

from names import camel_to_snake


class T(unittest.TestCase):
    def test_acronym(self):
        self.assertEqual(camel_to_snake("HTTPServer"), "http_server")
        self.assertEqual(camel_to_snake("getHTTPResponseCode"), "get_http_response_code")
