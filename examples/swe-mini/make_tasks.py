#!/usr/bin/env python3
"""Writes swe-mini's dataset from the task sources in this file.

For each task: a small Python project (one module, a README, a passing public test) is
committed to a fresh git repository (fixed author and dates, so the output is the same
every time), packed, and embedded whole (.git included, base64) as the task's
`workspace_files` in tasks.jsonl; its issue text is the task's prompt. The reference fix
becomes fixes/<task>.patch (what the `oracle` agent applies with `git apply`) and the
failing test hidden/<task>/test_issue.py (mounted only into the grader's container).

Run: python3 examples/swe-mini/make_tasks.py   (needs git; rewrites the three outputs)
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

TASKS = {
    "slugify": dict(
        module="slug.py",
        issue="slugify() keeps leading and trailing dashes: slugify('  Hello, World! ') "
        "returns '-hello-world-' but should return 'hello-world'.",
        buggy='''import re


def slugify(text):
    """Lower-case words joined by single dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower())
''',
        fixed='''import re


def slugify(text):
    """Lower-case words joined by single dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
''',
        public='''from slug import slugify


class T(unittest.TestCase):
    def test_simple(self):
        self.assertEqual(slugify("abc"), "abc")
''',
        hidden='''from slug import slugify


class T(unittest.TestCase):
    def test_strips_dashes(self):
        self.assertEqual(slugify("  Hello, World! "), "hello-world")
''',
    ),
    "roman": dict(
        module="roman.py",
        issue="to_roman(4) returns 'IIII' and to_roman(9) 'VIIII': subtractive forms "
        "(IV, IX, XL, XC, CD, CM) are never used.",
        buggy='''VALUES = [(1000, "M"), (500, "D"), (100, "C"), (50, "L"), (10, "X"), (5, "V"), (1, "I")]


def to_roman(n):
    out = ""
    for value, sym in VALUES:
        while n >= value:
            out += sym
            n -= value
    return out
''',
        fixed='''VALUES = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]


def to_roman(n):
    out = ""
    for value, sym in VALUES:
        while n >= value:
            out += sym
            n -= value
    return out
''',
        public='''from roman import to_roman


class T(unittest.TestCase):
    def test_three(self):
        self.assertEqual(to_roman(3), "III")
''',
        hidden='''from roman import to_roman


class T(unittest.TestCase):
    def test_subtractive(self):
        self.assertEqual(to_roman(4), "IV")
        self.assertEqual(to_roman(1994), "MCMXCIV")
''',
    ),
    "median": dict(
        module="stats.py",
        issue="median([1, 2, 3, 4]) returns 3; for an even number of values it should "
        "return the mean of the two middle ones (2.5).",
        buggy='''def median(values):
    s = sorted(values)
    return s[len(s) // 2]
''',
        fixed='''def median(values):
    s = sorted(values)
    mid = len(s) // 2
    if len(s) % 2 == 0:
        return (s[mid - 1] + s[mid]) / 2
    return s[mid]
''',
        public='''from stats import median


class T(unittest.TestCase):
    def test_odd(self):
        self.assertEqual(median([3, 1, 2]), 2)
''',
        hidden='''from stats import median


class T(unittest.TestCase):
    def test_even(self):
        self.assertEqual(median([1, 2, 3, 4]), 2.5)
''',
    ),
    "wordcount": dict(
        module="words.py",
        issue="count_words('The cat and the hat') counts 'The' and 'the' as different "
        "words; counting should ignore case.",
        buggy='''from collections import Counter


def count_words(text):
    return dict(Counter(text.split()))
''',
        fixed='''from collections import Counter


def count_words(text):
    return dict(Counter(text.lower().split()))
''',
        public='''from words import count_words


class T(unittest.TestCase):
    def test_plain(self):
        self.assertEqual(count_words("a b a"), {"a": 2, "b": 1})
''',
        hidden='''from words import count_words


class T(unittest.TestCase):
    def test_case(self):
        self.assertEqual(count_words("The cat and the hat")["the"], 2)
''',
    ),
    "fizzbuzz": dict(
        module="fizz.py",
        issue="fizzbuzz(15) returns 'Fizz' instead of 'FizzBuzz'.",
        buggy='''def fizzbuzz(n):
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    if n % 15 == 0:
        return "FizzBuzz"
    return str(n)
''',
        fixed='''def fizzbuzz(n):
    if n % 15 == 0:
        return "FizzBuzz"
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    return str(n)
''',
        public='''from fizz import fizzbuzz


class T(unittest.TestCase):
    def test_fizz(self):
        self.assertEqual(fizzbuzz(3), "Fizz")
''',
        hidden='''from fizz import fizzbuzz


class T(unittest.TestCase):
    def test_fifteen(self):
        self.assertEqual(fizzbuzz(15), "FizzBuzz")
        self.assertEqual(fizzbuzz(30), "FizzBuzz")
''',
    ),
    "leapyear": dict(
        module="calendar_utils.py",
        issue="is_leap(1900) returns True; century years are leap years only when "
        "divisible by 400.",
        buggy='''def is_leap(year):
    return year % 4 == 0
''',
        fixed='''def is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
''',
        public='''from calendar_utils import is_leap


class T(unittest.TestCase):
    def test_2024(self):
        self.assertTrue(is_leap(2024))
''',
        hidden='''from calendar_utils import is_leap


class T(unittest.TestCase):
    def test_centuries(self):
        self.assertFalse(is_leap(1900))
        self.assertTrue(is_leap(2000))
''',
    ),
    "flatten": dict(
        module="lists.py",
        issue="flatten([1, [2, [3, [4]]]]) returns [1, 2, [3, [4]]]; it should flatten "
        "nested lists at any depth.",
        buggy='''def flatten(items):
    out = []
    for x in items:
        if isinstance(x, list):
            out.extend(x)
        else:
            out.append(x)
    return out
''',
        fixed='''def flatten(items):
    out = []
    for x in items:
        if isinstance(x, list):
            out.extend(flatten(x))
        else:
            out.append(x)
    return out
''',
        public='''from lists import flatten


class T(unittest.TestCase):
    def test_one_level(self):
        self.assertEqual(flatten([1, [2, 3]]), [1, 2, 3])
''',
        hidden='''from lists import flatten


class T(unittest.TestCase):
    def test_deep(self):
        self.assertEqual(flatten([1, [2, [3, [4]]]]), [1, 2, 3, 4])
''',
    ),
    "snakecase": dict(
        module="names.py",
        issue="camel_to_snake('HTTPServer') returns 'h_t_t_p_server'; runs of capitals "
        "are one word ('http_server').",
        buggy='''import re


def camel_to_snake(name):
    return re.sub(r"(?<!^)([A-Z])", r"_\\1", name).lower()
''',
        fixed='''import re


def camel_to_snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\\1_\\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\\1_\\2", s).lower()
''',
        public='''from names import camel_to_snake


class T(unittest.TestCase):
    def test_simple(self):
        self.assertEqual(camel_to_snake("fooBar"), "foo_bar")
''',
        hidden='''from names import camel_to_snake


class T(unittest.TestCase):
    def test_acronym(self):
        self.assertEqual(camel_to_snake("HTTPServer"), "http_server")
        self.assertEqual(camel_to_snake("getHTTPResponseCode"), "get_http_response_code")
''',
    ),
}

GIT_ENV = {
    "GIT_AUTHOR_NAME": "swe-mini",
    "GIT_AUTHOR_EMAIL": "swe-mini@example.invalid",
    "GIT_COMMITTER_NAME": "swe-mini",
    "GIT_COMMITTER_EMAIL": "swe-mini@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo, *args):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(["git", "-C", repo, *args], env=env, check=True,
                          capture_output=True, text=True).stdout


def main():
    rows = []
    fixes = os.path.join(HERE, "fixes")
    hidden = os.path.join(HERE, "hidden")
    for d in (fixes, hidden):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for tid, t in TASKS.items():
        with tempfile.TemporaryDirectory() as repo:
            git(repo, "init", "-q", "--template=", "-b", "main")
            files = {
                t["module"]: t["buggy"],
                "README.md": f"# {tid}\n\nA small module with a public test.\n",
                "tests/__init__.py": "",
                "tests/test_public.py": "import unittest\n\n" + t["public"],
            }
            for rel, content in files.items():
                p = os.path.join(repo, rel)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w") as f:
                    f.write(content)
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"{tid}: initial version")
            git(repo, "gc", "-q", "--prune=now")
            shutil.rmtree(os.path.join(repo, ".git", "logs"), ignore_errors=True)
            # git needs .git/refs/ to exist, and a dataset carries files, not empty
            # directories: the branch as a loose ref instead of packed-refs.
            head = git(repo, "rev-parse", "HEAD").strip()
            os.remove(os.path.join(repo, ".git", "packed-refs"))
            os.makedirs(os.path.join(repo, ".git", "refs", "heads"), exist_ok=True)
            with open(os.path.join(repo, ".git", "refs", "heads", "main"), "w") as f:
                f.write(head + "\n")
            # The reference fix as a patch against the commit.
            with open(os.path.join(repo, t["module"]), "w") as f:
                f.write(t["fixed"])
            patch = git(repo, "diff")
            git(repo, "checkout", "-q", "--", t["module"])
            with open(os.path.join(fixes, f"{tid}.patch"), "w") as f:
                f.write(patch)
            ws = []
            for dirpath, dirnames, filenames in os.walk(repo):
                dirnames.sort()
                for name in sorted(filenames):
                    p = os.path.join(dirpath, name)
                    rel = os.path.relpath(p, repo)
                    with open(p, "rb") as f:
                        data = f.read()
                    try:
                        ws.append({"path": rel, "content": data.decode("utf-8")})
                    except UnicodeDecodeError:
                        ws.append({"path": rel, "content": base64.b64encode(data).decode(),
                                   "encoding": "base64"})
        os.makedirs(os.path.join(hidden, tid))
        with open(os.path.join(hidden, tid, "test_issue.py"), "w") as f:
            f.write("import unittest\n\n" + t["hidden"])
        rows.append({
            "schema_version": "task_boundary_v1",
            "task": {"id": tid, "prompt": t["issue"], "module": t["module"]},
            "workspace_files": ws,
        })
    with open(os.path.join(HERE, "tasks.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    print(f"wrote {len(rows)} tasks to tasks.jsonl, fixes/ and hidden/")


if __name__ == "__main__":
    main()
