"""The offline teacher: exercises mined from real standard-library modules and verified in the real
sandbox, and textbook passages mined from the documentation that ships with CPython (paper §2.2)."""

import fractions
import fnmatch
import inspect
import json
import pickletools
import re
import statistics
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from textbooks.sources import read_local_file
from textbooks.sandbox.pool import Limits, Sandbox
from textbooks.synth.exercises import (NOT_RUN, check_tests, exercise_program, exercise_record, parse_exercise_reply,
                                       verify_exercises)
from textbooks.synth.mined import document_units, mine_exercises, mine_passages

LIMITS = Limits(timeout_s=3, cpu_s=3, memory_mb=512)
PASSAGE_COLUMNS = {"id", "text", "source", "constraints", "teacher", "usage", "code_blocks", "code_parsed",
                   "verified", "verdict"}
PYTHON_BLOCK = re.compile(r"```python\n(.*?)\n```", re.DOTALL)


def record_of(module) -> dict:
    """The corpus record of a real standard-library module, as `textbooks corpus` reads it."""
    record = read_local_file(Path(module.__file__), 10_000_000)
    assert not record.get("reason")
    return record


def mined(module, allow_untested: bool = False, skipped: Counter | None = None) -> dict[str, dict]:
    return {e["entry_point"]: e for e in mine_exercises([record_of(module)], allow_untested, skipped)}


def constraints(record: dict) -> dict:
    return json.loads(record["constraints"])


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, limits=LIMITS) as box:
        yield box


# ---------------------------------------------------------------------------------------------
# Exercises


def test_a_documented_function_becomes_an_exercise_split_at_its_docstring():
    exercise = mined(statistics)["median"]
    docstring = statistics.median.__doc__
    assert exercise["text"] == inspect.getsource(statistics.median)  # the whole function, as in the file
    assert exercise["prompt"] + exercise["solution"] == exercise["text"]
    assert exercise["prompt"].startswith("def median(data):\n")
    assert exercise["prompt"].rstrip().endswith(f'"""{docstring}"""')  # ends with the docstring, exactly
    assert docstring not in exercise["solution"] and exercise["solution"].startswith("    data = sorted(data)\n")
    assert constraints(exercise) == {"mined_from": statistics.__file__, "function": "median"}
    assert (exercise["source"], exercise["teacher"]) == ("synth:exercises", "mined")
    usage = json.loads(exercise["usage"])  # the teacher's ledger, whatever else it counts: no tokens spent
    assert usage["prompt_tokens"] == usage["completion_tokens"] == 0
    assert (exercise["verified"], exercise["verdict"]) == (False, NOT_RUN)


def test_exercises_keep_the_teacher_paths_schema_and_stable_unique_ids():
    teacher = exercise_record(parse_exercise_reply("```python\ndef f():\n    '''Doc.'''\n    return 1\n```\n"
                                                   "```python\nassert f() == 1\n```"), {}, "t", {})
    first, again = mined(statistics), mined(statistics)
    assert all(set(exercise) == set(teacher) for exercise in first.values())
    assert [e["id"] for e in first.values()] == [e["id"] for e in again.values()]
    assert len({e["id"] for e in first.values()}) == len(first) > 10


def test_methods_are_not_mined_even_with_examples():
    exercises = mined(fractions, allow_untested=True)
    # the precondition that makes this test mean something: these methods do have doctest examples
    assert ">>>" in fractions.Fraction.limit_denominator.__doc__ and ">>>" in fractions.Fraction.__new__.__doc__
    methods = {name for name, _ in inspect.getmembers(fractions.Fraction, inspect.isfunction)}
    assert not methods & set(exercises)
    assert set(exercises) <= {name for name, _ in inspect.getmembers(fractions, inspect.isfunction)}


def test_a_function_without_examples_is_mined_only_if_untested_are_allowed():
    skipped = Counter()
    assert mined(fnmatch, skipped=skipped) == {}
    assert skipped == {"no doctest examples": 4, "no docstring": 1}  # fnmatch, filter, fnmatchcase, translate
    untested = mined(fnmatch, allow_untested=True)
    assert set(untested) == {"fnmatch", "filter", "fnmatchcase", "translate"}  # _compile_pattern: no docstring
    assert untested["filter"]["tests"] == ""
    assert constraints(untested["filter"])["untested"] == "no doctest examples"


def test_examples_that_do_not_call_the_function_cannot_test_it():
    skipped = Counter()
    assert "shorten" not in mined(textwrap, skipped=skipped)  # its examples call textwrap.shorten, the installed one
    assert skipped["examples do not call the function"] == 1
    assert constraints(mined(textwrap, allow_untested=True)["shorten"])["untested"] == \
        "examples do not call the function"


def test_lines_are_counted_as_the_tokenizer_counts_them():
    # U+2028 inside a string is no line break to Python (str.splitlines would take it for one); CRLF is
    source = 'X = 1\r\n\r\ndef f():\r\n    """Say it.\r\n\r\n    >>> f()\r\n    \'a\u2028b\'\r\n    """\r\n' \
             "    return 'a\u2028b'\r\n"
    (exercise,) = mine_exercises([{"id": "r", "text": source, "path": "m.py"}])
    assert exercise["prompt"] == source[source.index("def"):source.index("    return")]
    assert exercise["solution"] == "    return 'a\u2028b'\r\n"


def test_mined_tests_meet_the_verifiers_contract():
    # the verifier (exercises.check_tests) rejects tests that hold no assert, do not call the
    # function, or define it themselves
    exercises = [*mined(statistics).values(), *mined(fractions).values()]
    assert exercises and all(check_tests(e["tests"], e["entry_point"]) == "" for e in exercises)


def test_a_module_that_does_not_parse_is_counted():
    skipped = Counter()
    assert list(mine_exercises([{"id": "r", "text": "def broken(:\n", "path": "m.py"}], skipped=skipped)) == []
    assert skipped == {"module not parseable": 1}


def test_examples_with_the_right_outputs_pass_in_the_sandbox(sandbox):
    exercises = mined(statistics)
    checked = verify_exercises([exercises[name] for name in ("median", "median_low", "median_high")], sandbox)
    assert [(e["verified"], e["verdict"]) for e in checked] == [(True, "passed")] * 3


def test_an_example_whose_output_is_wrong_fails(sandbox):
    record = record_of(statistics)
    right = "    >>> median([1, 3, 5])\n    3\n"
    assert right in record["text"]
    record["text"] = record["text"].replace(right, "    >>> median([1, 3, 5])\n    4\n")
    exercise = {e["entry_point"]: e for e in mine_exercises([record])}["median"]
    (checked,) = verify_exercises([exercise], sandbox)
    assert checked["verified"] is False
    assert checked["verdict"] == "failed: AssertionError: median([1, 3, 5]) gave '3\\n', expected '4\\n'"


def test_a_solution_that_does_not_do_what_the_examples_say_fails(sandbox):
    exercise = mined(statistics)["median"]
    result = sandbox.run(exercise_program({**exercise, "solution": "    return 3\n"}))
    assert result.outcome.value == "failed" and result.reason.startswith("AssertionError: median([1, 3, 5, 7])")


def test_a_function_that_needs_its_module_fails_with_name_error(sandbox):
    (checked,) = verify_exercises([mined(statistics)["mean"]], sandbox)
    assert checked["verdict"] == "failed: NameError: name '_sum' is not defined"


def exercise_of(source: str, name: str) -> dict:
    """The exercise mined from the function `name` of a module whose source is `source` (dedented)."""
    records = [{"id": "r", "text": textwrap.dedent(source), "path": "m.py"}]
    return {e["entry_point"]: e for e in mine_exercises(records)}[name]


WORDS = textwrap.dedent('''\
    """Words."""
    import os
    import re
    from collections import Counter, OrderedDict as Ordered, defaultdict as dd
    from os import sep

    def words(text, sep=r"\\W+"):
        """The words of `text`, counted in order of first use.

        >>> words("a bc, a")
        [('a', 2), ('bc', 1)]
        """
        counts = dd(int)
        for word in re.split(sep, text):
            if word:
                counts[word] += 1
        return list(counts.items())
    ''')


def test_a_function_that_uses_an_imported_module_carries_its_import_and_passes(sandbox):
    exercise = exercise_of(WORDS, "words")
    assert exercise["prompt"].startswith("import re\n") and "\n\n\ndef words(text, sep=" in exercise["prompt"]
    assert exercise["prompt"].endswith("[('a', 2), ('bc', 1)]\n    \"\"\"\n")  # still ends with the docstring
    assert exercise["text"] == exercise["prompt"] + exercise["solution"]
    assert check_tests(exercise["tests"], "words") == ""
    (checked,) = verify_exercises([exercise], sandbox)
    assert checked["verdict"] == "passed"


def test_only_the_imported_names_the_function_reads_are_carried():
    # os, Counter, OrderedDict and sep (its `sep` is its parameter's): the module's, not read by `words`
    prompt = exercise_of(WORDS, "words")["prompt"]
    assert prompt.split("def words")[0] == "import re\nfrom collections import defaultdict as dd\n\n\n"
    # in the file's own line endings
    assert exercise_of(WORDS.replace("\n", "\r\n"), "words")["prompt"].startswith(
        "import re\r\nfrom collections import defaultdict as dd\r\n\r\n\r\ndef words(text, sep=")
    # as the standard library has them: an alias, one name of several, none for a function that needs none
    assert mined(pickletools)["read_uint2"]["prompt"].startswith(
        "from struct import unpack as _unpack\n\n\ndef read_uint2(f):\n")
    exercises = mined(statistics)
    assert exercises["mode"]["prompt"].startswith("from collections import Counter\n\n\ndef mode(data):\n")
    assert exercises["correlation"]["prompt"].startswith("from math import sqrt, fsum\n\n\ndef correlation(")
    assert exercises["median"]["prompt"].startswith("def median(data):\n")


def test_a_function_that_uses_a_module_helper_or_constant_still_fails_with_name_error(sandbox):
    source = '''\
        import re

        WORD = re.compile(r"\\w+")

        def _lower(text):
            return text.lower()

        def words(text):
            """The words of `text`.

            >>> words("a bc")
            ['a', 'bc']
            """
            return WORD.findall(text)

        def lowered(text):
            """`text` in lower case, split.

            >>> lowered("A B")
            ['a', 'b']
            """
            return re.split(" ", _lower(text))
        '''
    words, lowered = exercise_of(source, "words"), exercise_of(source, "lowered")
    assert words["prompt"].startswith("def words(text):\n")  # reads WORD, not re
    assert lowered["prompt"].startswith("import re\n\n\ndef lowered(text):\n")
    checked = verify_exercises([words, lowered], sandbox)
    assert [e["verdict"] for e in checked] == ["failed: NameError: name 'WORD' is not defined",
                                               "failed: NameError: name '_lower' is not defined"]


def test_a_relative_import_is_not_carried_and_its_function_fails(sandbox):
    source = '''\
        import re
        from .text import split_words, lower as low

        def words(text):
            """The words of `text`, in lower case.

            >>> words("A bc")
            ['a', 'bc']
            """
            return [low(word) for word in split_words(text) if re.match("[A-Za-z]", word)]
        '''
    exercise = exercise_of(source, "words")
    assert exercise["prompt"].startswith("import re\n\n\ndef words(text):\n")
    (checked,) = verify_exercises([exercise], sandbox)
    assert checked["verdict"] == "failed: NameError: name 'split_words' is not defined"


@pytest.mark.parametrize("binding", [
    "try:\n    import simplejson as json\nexcept ImportError:\n    pass\n",  # a fallback: which one ran?
    "if TYPE_CHECKING:\n    import json\n",
    "json = None\n",
    "del json\n",
], ids=["try", "if", "assignment", "del"])
def test_a_name_the_module_also_binds_otherwise_is_not_carried(sandbox, binding):
    source = f'''\
import json
{binding}
def dumped(value):
    """`value` as JSON.

    >>> dumped([1])
    '[1]'
    """
    return json.dumps(value)
'''
    exercise = exercise_of(source, "dumped")
    assert exercise["prompt"].startswith("def dumped(value):\n")
    (checked,) = verify_exercises([exercise], sandbox)
    assert checked["verdict"] == "failed: NameError: name 'json' is not defined"


def test_expected_exceptions_are_compared_as_doctest_does(sandbox):
    def module(message: str) -> dict:
        source = textwrap.dedent(f'''\
            def port(text):
                """The port number in `text`.

                >>> port("80")
                80
                >>> for text in ("1", "2"):
                ...     port(text)
                1
                2
                >>> port("x")
                Traceback (most recent call last):
                  ...
                ValueError: {message}
                >>> port("y")  # doctest: +IGNORE_EXCEPTION_DETAIL
                Traceback (most recent call last):
                builtins.ValueError: whatever it says
                """
                if not text.isdigit():
                    raise ValueError(f"not a port: {{text!r}}")
                return int(text)
            ''')
        (exercise,) = mine_exercises([{"id": message, "text": source, "path": "m.py"}])
        return exercise

    right, wrong = verify_exercises([module("not a port: 'x'"), module("no port")], sandbox)
    assert right["verdict"] == "passed"
    assert wrong["verdict"].startswith("failed: AssertionError: port(\"x\") gave \"ValueError: not a port: 'x'")


# ---------------------------------------------------------------------------------------------
# Passages


@pytest.fixture(scope="module")
def topic_passages() -> list[dict]:
    return list(mine_passages(max_chars=1500, roots=[]))


def passages_of(passages: list[dict], origin: str) -> list[dict]:
    return [p for p in passages if constraints(p)["mined_from"] == origin]


def test_passages_fit_and_count_their_python_blocks(topic_passages):
    assert len(topic_passages) > 79  # every topic, the long ones in several passages
    assert len({p["id"] for p in topic_passages}) == len(topic_passages)
    for passage in topic_passages:
        assert set(passage) == PASSAGE_COLUMNS
        assert 0 < len(passage["text"].strip()) <= len(passage["text"]) <= 1500
        assert constraints(passage)["mined_from"].startswith("pydoc_data.topics:")
        assert (passage["source"], passage["teacher"], passage["verified"]) == ("synth:textbook", "mined", False)
        assert passage["code_blocks"] == len(PYTHON_BLOCK.findall(passage["text"]))
        assert 0 <= passage["code_parsed"] <= passage["code_blocks"]
    assert sum(p["code_parsed"] for p in topic_passages) > 50


def test_code_of_the_reference_becomes_python_blocks_and_its_grammar_does_not(topic_passages):
    text = "\n\n".join(p["text"] for p in passages_of(topic_passages, "pydoc_data.topics:for"))
    assert "```python\nfor i in range(10):\n    print(i)\n" in text
    assert 'for_stmt ::= "for" target_list' in text and "```python\nfor_stmt" not in text
    methods = "\n\n".join(p["text"] for p in passages_of(topic_passages, "pydoc_data.topics:string-methods"))
    assert "```python\n>>> '01\\t012\\t0123\\t01234'.expandtabs()\n'01      012     0123    01234'\n" in methods


def test_long_topics_are_cut_at_paragraph_boundaries_under_their_heading(topic_passages):
    from pydoc_data.topics import topics

    parts = passages_of(topic_passages, "pydoc_data.topics:string-methods")
    assert len(parts) > 10
    assert all(p["text"].startswith("String Methods\n**************\n\n") for p in parts)
    text = "\n\n".join(p["text"] for p in parts)
    prose = [paragraph for paragraph in topics["string-methods"].split("\n\n") if not paragraph.startswith(" ")]
    assert all(paragraph.strip() in text for paragraph in prose)  # no paragraph lost or cut inside


def test_rest_docstrings_keep_their_code_and_count_what_does_not_parse():
    passages = list(mine_passages(roots=[Path(json.__file__).parent]))
    (module,) = passages_of(passages, "json")
    assert module["text"].startswith("json\n====\n\nJSON (JavaScript Object Notation)")
    assert "```python\n>>> import json\n>>> json.dumps(['foo', {'bar': ('baz', None, 1.0, 2)}])\n" in module["text"]
    # the one block after a "::" that is not Python (a shell session) is counted as not parsed
    assert "```python\n$ echo '{\"json\":\"obj\"}' | python -m json.tool" in module["text"]
    assert module["code_blocks"] - module["code_parsed"] == 1
    assert "from the shell to validate and pretty-print:\n\n```python" in module["text"]  # "::" reads as ":"


def test_indented_prose_is_not_code_but_code_nested_in_it_is():
    units = document_units(textwrap.dedent("""\
        str.find(sub)

           Return the lowest index.

           Note:

             Use the "in" operator:

                >>> 'Py' in 'Python'
                True

        A literal block::

            $ python sorting.py
        """))
    assert [u.code for u in units] == [False, False, False, False, True, False, True]
    assert units[4].text == "```python\n>>> 'Py' in 'Python'\nTrue\n```" and units[4].parsed
    assert units[5].text == "A literal block:" and not units[6].parsed
