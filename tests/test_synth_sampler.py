"""The diversity sampler (paper §2.2): topics, constraint coverage, prompt templates."""

import keyword
import re

import pytest

from textbooks.synth.sampler import (KINDS, REQUIRED_FIELDS, TEMPLATE_FIELDS, VERBS, combination_count, function_name,
                                     load_template, load_topics, render_prompt, sample_constraints)

SMALL_TOPICS = ["python / lists / list slicing", "algorithms / sorting / insertion sort", "recursion"]


def combination(constraints: dict) -> tuple:
    return tuple(sorted(constraints.items()))


def test_packaged_tree_has_hundreds_of_distinct_leaves():
    topics = load_topics()
    assert len(topics) >= 250
    assert len(set(topics)) == len(topics)
    assert "algorithms / sorting / insertion sort" in topics


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("share", [0.5, 1, 2.5])
@pytest.mark.parametrize("topic_count", [1, 2, 3, 7])  # products sharing factors with a golden-ratio stride too
def test_prompts_cover_combinations_before_repeating_one(kind, share, topic_count):
    topics = [f"topic {i}" for i in range(topic_count)]
    total = combination_count(kind, topics)
    n = int(total * share)
    sampled = sample_constraints(kind, n, seed=7, topics=topics)
    assert len(sampled) == n
    assert len({combination(c) for c in sampled}) == min(n, total)


@pytest.mark.parametrize("kind", KINDS)
def test_a_thousand_prompts_over_the_packaged_topics_are_distinct(kind):
    topics = load_topics()
    assert combination_count(kind, topics) > 1000
    sampled = sample_constraints(kind, 1000, seed=0, topics=topics)
    assert len({combination(c) for c in sampled}) == 1000


@pytest.mark.parametrize("kind", KINDS)
def test_consecutive_prompts_run_through_every_topic(kind):
    topics = load_topics()
    sampled = sample_constraints(kind, 2 * len(topics), seed=3, topics=topics)
    assert {c["topic"] for c in sampled[:len(topics)]} == set(topics)
    assert {c["topic"] for c in sampled[len(topics):]} == set(topics)


def test_combination_count_is_the_product_of_the_axes():
    assert combination_count("textbooks", SMALL_TOPICS) == 3 * 6 * 6
    assert combination_count("exercises", SMALL_TOPICS + SMALL_TOPICS) == 3 * 4 * len(VERBS) * 8


@pytest.mark.parametrize("kind", KINDS)
def test_the_seed_fixes_the_order(kind):
    total = combination_count(kind, SMALL_TOPICS)
    first = sample_constraints(kind, total, seed=1, topics=SMALL_TOPICS)
    assert sample_constraints(kind, total, seed=1, topics=SMALL_TOPICS) == first
    other = sample_constraints(kind, total, seed=2, topics=SMALL_TOPICS)
    assert other != first
    assert {combination(c) for c in other} == {combination(c) for c in first}


def test_exercise_constraints_require_a_function_name_from_topic_and_verb():
    sampled = sample_constraints("exercises", 500, seed=0, topics=load_topics())
    for c in sampled:
        assert c["function_name"] == function_name(c["topic"], c["verb"])
        assert c["function_name"].isidentifier() and not keyword.iskeyword(c["function_name"])
        assert c["function_name"].startswith(c["verb"] + "_")
    assert len({c["function_name"] for c in sampled}) > 400
    assert function_name("algorithms / string algorithms / the caesar cipher", "find") == "find_caesar_cipher"
    assert function_name("math / de morgan's laws", "check") == "check_de_morgans_laws"
    assert function_name("recursion / ???", "count") == "count_recursion"


@pytest.mark.parametrize("kind", KINDS)
def test_rendering_fills_every_field(kind):
    constraints = sample_constraints(kind, 1, seed=0, topics=load_topics())[0]
    prompt = render_prompt(kind, constraints)
    assert not re.search(r"\$\w|\$\{", prompt)
    for field in REQUIRED_FIELDS[kind]:
        assert constraints[field] in prompt


def test_exercise_prompt_asks_for_an_exercise_block_then_an_assert_block():
    constraints = sample_constraints("exercises", 1, seed=0, topics=SMALL_TOPICS)[0]
    prompt = render_prompt("exercises", constraints)
    assert "exactly two fenced ```python code blocks" in prompt
    assert "docstring" in prompt and "assert" in prompt
    assert f"def {constraints['function_name']}(" in prompt


def test_textbook_prompt_asks_for_runnable_code_blocks():
    prompt = render_prompt("textbooks", sample_constraints("textbooks", 1, seed=0, topics=SMALL_TOPICS)[0])
    assert "```python" in prompt and "runnable" in prompt


def test_a_user_template_is_filled_with_literal_dollars_and_braces_kept():
    template = "Teach ${topic} to $audience as $style; it costs $$0 and {braces} stay.\n"
    constraints = {"topic": "loops", "audience": "a student", "style": "a dialogue"}
    assert render_prompt("textbooks", constraints, template) == (
        "Teach loops to a student as a dialogue; it costs $0 and {braces} stay.\n")


def test_a_template_naming_an_unknown_field_is_refused_with_the_fields_it_may_use():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \$colour") as error:
        render_prompt("textbooks", {}, "About $topic for $audience as $style in $colour.")
    for field in TEMPLATE_FIELDS["textbooks"]:
        assert f"${field}" in str(error.value)


def test_a_template_missing_a_required_field_is_refused(tmp_path):
    path = tmp_path / "exercise.txt"
    path.write_text("Write an exercise about $topic, $difficulty, that $signature.\n")
    with pytest.raises(ValueError, match=r"missing field\(s\) \$function_name") as error:
        load_template("exercises", path)
    assert str(path) in str(error.value)


def test_a_stray_dollar_is_refused_with_its_line():
    with pytest.raises(ValueError, match=r"line\(s\) 2"):
        render_prompt("textbooks", {}, "$topic $audience $style\ncosts $5\n")


def test_packaged_templates_load():
    for kind in KINDS:
        assert "$topic" in load_template(kind)


def test_topics_from_a_text_file(tmp_path):
    path = tmp_path / "topics.txt"
    path.write_text("# my course\nlists\n\n  dictionaries  \nlists\nalgorithms / sorting / merge sort\n")
    assert load_topics(path) == ["lists", "dictionaries", "algorithms / sorting / merge sort"]


def test_topics_from_a_yaml_tree(tmp_path):
    path = tmp_path / "topics.yaml"
    path.write_text("python:\n  loops: [while loops, for loops]\n  recursion:\n"
                    "algorithms:\n  - binary search\n  - sorting: [merge sort]\n")
    assert load_topics(path) == ["python / loops / while loops", "python / loops / for loops", "python / recursion",
                                 "algorithms / binary search", "algorithms / sorting / merge sort"]


@pytest.mark.parametrize("name, text", [("empty.txt", "\n# nothing yet\n"), ("empty.yaml", "# nothing yet\n"),
                                        ("empty-tree.yaml", "python: []\n")])
def test_a_file_without_topics_is_refused(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(f"{path}: holds no topics")):
        load_topics(path)


@pytest.mark.parametrize("text, problem", [("python: [loops\n", "not valid YAML"),
                                           ("python: [loops, [true]]\n", "True is not a topic")])
def test_a_malformed_yaml_tree_is_refused_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "topics.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(f"{path}: {problem}")):
        load_topics(path)


def test_sampling_needs_a_known_kind_and_a_topic():
    with pytest.raises(ValueError, match="unknown kind 'poems'"):
        sample_constraints("poems", 1, seed=0, topics=SMALL_TOPICS)
    with pytest.raises(ValueError, match="at least one topic"):
        sample_constraints("textbooks", 1, seed=0, topics=[])
