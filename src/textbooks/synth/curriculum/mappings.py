"""Operations on dictionaries, sets, tuples, (name, value) pairs and grids: iterating, comprehensions,
counting, grouping, removing duplicates, set algebra, packing and unpacking, zip, records and tables."""

from __future__ import annotations

from textbooks.synth.curriculum.concepts import Arg, Family, Mistake, Op

THRESHOLD = Arg("int", ("threshold", "limit", "bound", "cutoff", "min_value"))
OFFSET = Arg("int", ("bonus", "offset", "delta", "increment", "shift"))
KEY_LENGTH = Arg("small", ("min_length", "length", "min_letters", "key_size"))
OTHERS = Arg("list[int]", ("others", "second", "other_nums", "extra_values", "reference"))
NUMBERS = Arg("list[int]", ("numbers", "amounts", "quantities", "ranks", "points_list"))
MORE_COUNTS = Arg("dict[str, int]", ("more", "extra_counts", "new_counts", "second_counts"))

DICTS = ("dict[str, int]", "dict[str, list[str]]", "dict[int, list[str]]")
GROUPS = ("dict[str, list[str]]", "dict[int, list[str]]")


FAMILIES = (
    Family("dict_iteration", "python / dictionaries / iterating over keys values and items",
           "Walking through a dictionary",
           ("A dictionary stores values under keys, and a `for` loop over it visits the keys, in the order they "
            "were inserted. To get the values use `d.values()`, and to get both at once use `d.items()`, which "
            "gives `(key, value)` pairs you can unpack: `for key, value in d.items():`.",
            "Most questions about a dictionary are answered by one pass over its entries: add up the values, "
            "count the ones that pass a test, or remember the best key seen so far. Built-ins help too: "
            "`sum(d.values())` totals the values, `sorted(d)` gives the keys in order, and "
            "`max(d, key=d.get)` finds the key with the largest value.",
            "Dictionaries keep insertion order, so 'the first key' means the one added first. When an order "
            "matters and it is not the insertion order, sort explicitly: `sorted(d.items())` gives the entries "
            "as a list of pairs ordered by key."),
           (Mistake(wrong='stock = {"apples": 3, "pears": 5, "figs": 9}\nprint(max(stock))',
                    why="Looping over a dictionary, and so calling `max` on it, looks only at the keys: this finds "
                        "the alphabetically last key, not the key with the largest value.",
                    fixed='stock = {"apples": 3, "pears": 5, "figs": 9}\nprint(max(stock, key=stock.get))'),
            Mistake(wrong='stock = {"apples": 3, "pears": 5}\ntry:\n    print(stock["kiwis"])\n'
                          'except KeyError as error:\n    print("KeyError:", error)',
                    why="Square brackets raise a KeyError for a key that is not in the dictionary. When a missing "
                        "key simply means 'none', ask with `get` and a default instead.",
                    fixed='stock = {"apples": 3, "pears": 5}\nprint(stock.get("kiwis", 0))'))),
    Family("dict_comprehension", "python / dictionaries / dictionary comprehensions",
           "Building dictionaries in one line",
           ("A dictionary comprehension builds a new dictionary from any iterable in one expression: "
            "`{key: value for key, value in d.items() if value >= 0}`. It has a `key: value` part, a `for` "
            "part and an optional `if` part, just like a list comprehension with a colon in front.",
            "Comprehensions never change the dictionary they read from; they make a fresh one. That makes them "
            "the safe way to 'remove' entries or 'change' values: build the dictionary you want and use it "
            "instead of the old one.",
            "The keys of a comprehension's result appear in the order the `for` part produces them. If the same "
            "key comes up twice, the later value wins, and the key keeps the place it got the first time."),
           (Mistake(wrong='scores = {"ann": 5, "bob": -2, "cy": 7}\ntry:\n    for key in scores:\n'
                          '        if scores[key] < 0:\n            del scores[key]\n'
                          'except RuntimeError as error:\n    print("RuntimeError:", error)\nprint(scores)',
                    why="Deleting entries from a dictionary while a loop walks over it raises a RuntimeError: the "
                        "dictionary changed size under the loop. Build a new dictionary instead.",
                    fixed='scores = {"ann": 5, "bob": -2, "cy": 7}\n'
                          'scores = {key: value for key, value in scores.items() if value >= 0}\nprint(scores)'),
            Mistake(wrong='words = ["hi", "hello"]\nlengths = {len(word) for word in words}\nprint(lengths)',
                    why="Without a `key: value` pair, curly braces around a comprehension make a set, not a "
                        "dictionary: the words are lost and only the lengths remain.",
                    fixed='words = ["hi", "hello"]\nlengths = {word: len(word) for word in words}\nprint(lengths)'))),
    Family("dict_counting", "python / dictionaries / counting things with a dictionary",
           "Counting with a dictionary",
           ("To count how often each thing occurs, keep a dictionary from the thing to its count. For each "
            "item, add one to its entry: `counts[item] = counts.get(item, 0) + 1`. The `get` with a default of "
            "0 handles the first time an item is seen.",
            "A dictionary of counts only has keys for the things that actually occurred, in the order they "
            "first occurred. When every category must appear, even with a count of zero, create the keys first "
            "and then add to them.",
            "Two tallies can be combined by adding one into the other: start from a copy of the first and, for "
            "every key of the second, add its count to whatever the first already had (or to 0)."),
           (Mistake(wrong='letters = ["a", "b", "a"]\ncounts = {}\ntry:\n    for letter in letters:\n'
                          '        counts[letter] += 1\nexcept KeyError as error:\n    print("KeyError:", error)\n'
                          'print(counts)',
                    why="`counts[letter] += 1` must read the old count first, and the first time a letter is seen "
                        "there is none, so it raises a KeyError.",
                    fixed='letters = ["a", "b", "a"]\ncounts = {}\nfor letter in letters:\n'
                          '    counts[letter] = counts.get(letter, 0) + 1\nprint(counts)'),)),
    Family("dict_grouping", "python / dictionaries / grouping values with a dictionary",
           "Grouping values with a dictionary",
           ("Grouping sorts items into buckets by some property: words by their length, names by their first "
            "letter. A dictionary maps each property value to the list of items that have it; for each item, "
            "create the list if the key is new, then append the item to it.",
            "Because every item is appended in turn, the items inside each group keep their original order, "
            "and the groups appear in the order their first item was met. Asking questions about the groups "
            "then means looping over the dictionary's values, each of which is a list.",
            "Inverting a dictionary is grouping too: the old values become keys, and because several keys may "
            "share a value, each new key holds the list of old keys that had it."),
           (Mistake(wrong='groups = dict.fromkeys(["a", "b"], [])\ngroups["a"].append("apple")\nprint(groups)',
                    why="`dict.fromkeys(keys, [])` puts the very same list object under every key, so appending "
                        "to one group appends to all of them.",
                    fixed='groups = {key: [] for key in ["a", "b"]}\ngroups["a"].append("apple")\nprint(groups)'),
            Mistake(wrong='groups = {}\nfor word in ["ox", "cat", "go"]:\n    groups[len(word)] = [word]\n'
                          'print(groups)',
                    why="Assigning a new one-item list replaces the group each time, so only the last word of "
                        "each length survives.",
                    fixed='groups = {}\nfor word in ["ox", "cat", "go"]:\n    groups.setdefault(len(word), [])'
                          '.append(word)\nprint(groups)'))),
    Family("set_dedupe", "python / sets / removing duplicates with a set", "Removing duplicates with a set",
           ("A set holds each value at most once, so `set(items)` throws the duplicates away. Sets have no "
            "order, though: to show their members, sort them with `sorted(s)`, which gives a list.",
            "When the original order matters, keep a set of the items already seen and copy an item only the "
            "first time it shows up. Checking `x in seen` on a set is fast, however large the set grows.",
            "Many questions are really about the distinct values: `len(set(items))` counts them and "
            "`sum(set(items))` adds each value once."),
           (Mistake(wrong="numbers = [30, 1, 30, 2]\nprint(list(set(numbers)))",
                    why="A set does not remember the order in which values were added, so turning it back into "
                        "a list can shuffle them. Keep the first occurrences in order with a seen set or "
                        "`dict.fromkeys`.",
                    fixed="numbers = [30, 1, 30, 2]\nprint(list(dict.fromkeys(numbers)))"),
            Mistake(wrong="seen = {}\ntry:\n    seen.add(3)\nexcept AttributeError as error:\n"
                          "    print(\"AttributeError:\", error)",
                    why="Empty curly braces make an empty dictionary, not an empty set. Write `set()` for an "
                        "empty set.",
                    fixed="seen = set()\nseen.add(3)\nprint(seen)"))),
    Family("set_membership", "python / sets / fast membership tests with sets", "Fast membership tests",
           ("The `in` operator asks whether a value is in a collection. On a list it checks the items one by "
            "one, but on a set it jumps straight to where the value would be, so it stays fast for large "
            "collections.",
            "A common pattern is to turn the collection you test against into a set once, before the loop, and "
            "then ask `x in allowed` for each item. The same trick finds repeats: keep a set of what has been "
            "seen so far, and an item already in it is a duplicate."),
           (Mistake(wrong="banned = [3, 4]\nnumbers = [1, 3, 4, 5]\nfor x in numbers:\n    if x in banned:\n"
                          "        numbers.remove(x)\nprint(numbers)",
                    why="Removing items from the list being looped over makes the loop skip the item after each "
                        "removal, so 4 is never checked. Build a new list of the items to keep.",
                    fixed="banned = {3, 4}\nnumbers = [1, 3, 4, 5]\nnumbers = [x for x in numbers if x not in banned]\n"
                          "print(numbers)"),)),
    Family("set_algebra", "python / sets / union intersection and difference", "Union, intersection, difference",
           ("Sets combine like in mathematics: `a | b` (union) holds everything in either set, `a & b` "
            "(intersection) what is in both, `a - b` (difference) what is in `a` but not in `b`, and `a ^ b` "
            "(symmetric difference) what is in exactly one of them.",
            "To compare two lists this way, turn them into sets first with `set(...)`. The answer is a set, "
            "which has no order, so `sorted(...)` turns it into a list in ascending order that is easy to "
            "read and to test."),
           (Mistake(wrong='a = {1, 2, 3}\nb = {3, 4}\ntry:\n    print(a + b)\nexcept TypeError as error:\n'
                          '    print("TypeError:", error)',
                    why="Sets do not support `+`. Combining two sets is a union, written `a | b` or "
                        "`a.union(b)`.",
                    fixed="a = {1, 2, 3}\nb = {3, 4}\nprint(a | b)"),
            Mistake(wrong="a = {1, 2, 3}\nb = {3, 4}\nprint(sorted(b - a))",
                    why="Difference is not symmetric: `b - a` is what `b` has that `a` lacks. The values of `a` "
                        "that are not in `b` are `a - b`.",
                    fixed="a = {1, 2, 3}\nb = {3, 4}\nprint(sorted(a - b))"))),
    Family("tuple_unpacking", "python / tuples / tuple packing and unpacking", "Packing and unpacking tuples",
           ("Writing values separated by commas packs them into a tuple: `pair = (low, high)`. Unpacking does "
            "the reverse and gives each item its own name: `low, high = pair`. The number of names must match "
            "the number of items.",
            "A function that needs to hand back two results can return a tuple of them, as in "
            "`return smallest, largest`, and the caller can unpack it straight away. Tuples cannot be changed "
            "once made; to 'change' one, build a new tuple.",
            "Unpacking also swaps two values without a helper variable: `left, right = right, left` packs the "
            "right-hand side into a tuple first and then unpacks it."),
           (Mistake(wrong="a = 1\nb = 2\na = b\nb = a\nprint(a, b)",
                    why="After `a = b` the old value of `a` is gone, so `b = a` copies the new value back. Swap "
                        "with tuple unpacking, which reads both values before assigning either.",
                    fixed="a = 1\nb = 2\na, b = b, a\nprint(a, b)"),
            Mistake(wrong='point = (3, 4)\ntry:\n    point[0] = 5\nexcept TypeError as error:\n'
                          '    print("TypeError:", error)',
                    why="Tuples are immutable: their items cannot be assigned. Build a new tuple with the new value.",
                    fixed="point = (3, 4)\npoint = (5, point[1])\nprint(point)"))),
    Family("zip_pairs", "python / loops / looping over two lists with zip", "Walking two lists together",
           ("`zip(a, b)` walks two lists side by side and gives their items in pairs: the first with the "
            "first, the second with the second, and so on. It stops as soon as the shorter list runs out, "
            "so leftover items of the longer list are ignored.",
            "`enumerate(items)` is a close relative that pairs each item with its position, starting at 0. "
            "Both give tuples that a `for` loop can unpack: `for word, count in zip(words, counts):`.",
            "Going the other way, a list of pairs can be split into its first items and its second items "
            "with two comprehensions, such as `[pair[0] for pair in pairs]`."),
           (Mistake(wrong='pairs = zip(["ann", "bob"], [5, 7])\nprint(list(pairs))\nprint(list(pairs))',
                    why="`zip` gives a one-pass iterator: once it has been read to the end it is empty, so the "
                        "second `list` gets nothing. Make a list of it once and reuse that.",
                    fixed='pairs = list(zip(["ann", "bob"], [5, 7]))\nprint(pairs)\nprint(pairs)'),)),
    Family("pair_records", "projects / data handling / grouping and aggregating records",
           "Working with (name, value) records",
           ("A list of `(name, value)` tuples is the simplest table of records: each tuple is one row. A loop "
            "unpacks each row into two names, `for name, score in records:`, and then filters, totals or "
            "compares them.",
            "To sort records by something other than their first item, give `sorted` a `key`: "
            "`sorted(records, key=lambda pair: pair[1])` orders them by value. A tuple as the key, such as "
            "`(pair[1], pair[0])`, breaks ties by the second part.",
            "Aggregating means combining the rows that share a name, for example adding up their values in a "
            "dictionary from name to total."),
           (Mistake(wrong='records = [("bob", 3), ("ann", 9)]\nprint(sorted(records))',
                    why="Tuples sort by their first item first, so plain `sorted` orders the records by name. To "
                        "order them by value, pass a key function.",
                    fixed='records = [("bob", 3), ("ann", 9)]\nprint(sorted(records, key=lambda pair: pair[1]))'),)),
    Family("grid_tables", "python / lists / lists of lists as tables", "Lists of lists as tables",
           ("A table of numbers can be stored as a list of rows, each row a list: `grid[r]` is a row and "
            "`grid[r][c]` is the cell in row `r` and column `c`. A loop over the grid visits the rows, and a "
            "loop inside it visits the cells of each row.",
            "Row-wise questions are easy because each row is a list: `[sum(row) for row in grid]` gives the row "
            "totals. Column-wise questions need the column index: the cells of column `c` are `row[c]` for "
            "every row.",
            "A nested comprehension builds a new table of the same shape: "
            "`[[cell * 2 for cell in row] for row in grid]` doubles every cell and leaves the original alone."),
           (Mistake(wrong="grid = [[0] * 3] * 2\ngrid[0][0] = 5\nprint(grid)",
                    why="Multiplying a list of lists copies references, not rows: both rows are the same list, so "
                        "changing one cell changes it in every row.",
                    fixed="grid = [[0] * 3 for _ in range(2)]\ngrid[0][0] = 5\nprint(grid)"),)),
    Family("grid_turns", "data structures / arrays / transposing a matrix", "Transposing and turning a grid",
           ("Transposing a grid swaps its rows and columns: the cell in row `r`, column `c` moves to row `c`, "
            "column `r`, so a grid with 2 rows of 3 becomes 3 rows of 2. The new row `c` is column `c` of the "
            "old grid.",
            "`zip(*grid)` transposes in one step: the star passes each row as a separate argument, and `zip` "
            "groups their first cells, their second cells, and so on. It gives tuples, so wrap each one in "
            "`list` to get a grid of lists again.",
            "Other turns are built from simple pieces: reversing each row mirrors the grid left to right, and "
            "transposing the grid with its rows in reverse order rotates it a quarter turn clockwise."),
           (Mistake(wrong="grid = [[1, 2], [3, 4]]\nprint(list(zip(*grid)))",
                    why="`zip` produces tuples, so this transposed grid is a list of tuples, which cannot be "
                        "changed cell by cell like the original list of lists.",
                    fixed="grid = [[1, 2], [3, 4]]\nprint([list(part) for part in zip(*grid)])"),)),
)

OPS = (
    # --- iterating over a dictionary ---
    Op("dict_sum_values", "dict_iteration", ("dict[str, int]",), "int",
       ("add up all the values of the dictionary", "compute the total of the dictionary's values (0 when it is empty)",
        "sum the values stored under all the keys"),
       "sum({v}.values())", ("value_total", "values_total"), "value_total",
       loop="{out} = 0\nfor value in {v}.values():\n    {out} += value"),
    Op("dict_key_of_max", "dict_iteration", ("dict[str, int]",), "str",
       ("find the key with the largest value, taking the first such key in insertion order on ties",
        "pick the key whose value is the biggest (the earliest key if several tie)",
        "select the key that maps to the maximum value, preferring the earliest key on a tie"),
       "max({v}, key={v}.get)", ("top_key", "best_key"), "top_key",
       loop="{out} = list({v})[0]\nfor key in {v}:\n    if {v}[key] > {v}[{out}]:\n        {out} = key",
       builtin="max({v}.items(), key=lambda pair: pair[1])[0]", nonempty=True),
    Op("dict_keys_sorted", "dict_iteration", ("dict[str, int]", "dict[str, list[str]]"), "list[str]",
       ("list the keys in alphabetical order", "collect the dictionary's keys sorted in ascending order",
        "take the keys of the dictionary, sorted alphabetically"),
       "sorted({v})", ("sorted_keys", "key_list"), "key_list",
       loop="{out} = []\nfor key in {v}:\n    {out}.append(key)\n{out}.sort()",
       builtin="sorted({v}.keys())", keeps_nonempty=True),
    Op("dict_values_sorted", "dict_iteration", ("dict[str, int]",), "list[int]",
       ("list the values in ascending order, keeping repeated values",
        "collect the dictionary's values sorted from smallest to largest",
        "take the values of the dictionary and sort them in increasing order"),
       "sorted({v}.values())", ("sorted_values", "value_list"), "value_list",
       loop="{out} = []\nfor value in {v}.values():\n    {out}.append(value)\n{out}.sort()",
       keeps_nonempty=True),
    Op("dict_keys_above", "dict_iteration", ("dict[str, int]",), "list[str]",
       ("list the keys whose value is greater than {arg}, in the dictionary's order",
        "collect, in insertion order, every key that maps to a value above {arg}",
        "find the keys with a value strictly larger than {arg}, keeping the dictionary's order"),
       "[key for key, value in {v}.items() if value > {arg}]", ("keys_above", "big_keys"), "big_keys",
       loop="{out} = []\nfor key, value in {v}.items():\n    if value > {arg}:\n        {out}.append(key)",
       builtin="list(filter(lambda key: {v}[key] > {arg}, {v}))", arg=THRESHOLD),
    Op("dict_size", "dict_iteration", DICTS, "int",
       ("count the keys of the dictionary", "find how many entries the dictionary holds",
        "compute the number of key-value pairs"),
       "len({v})", ("size", "entry_count"), "entry_count",
       loop="{out} = 0\nfor key in {v}:\n    {out} += 1"),
    Op("dict_count_positive", "dict_iteration", ("dict[str, int]",), "int",
       ("count the values that are greater than zero", "find how many entries have a positive value",
        "compute the number of keys whose value is above 0"),
       "sum(1 for value in {v}.values() if value > 0)", ("positive_count", "positives"), "positive_count",
       loop="{out} = 0\nfor value in {v}.values():\n    if value > 0:\n        {out} += 1",
       builtin="len(list(filter(lambda value: value > 0, {v}.values())))"),
    Op("dict_items_sorted", "dict_iteration", ("dict[str, int]",), "list[tuple[str, int]]",
       ("turn the dictionary into a list of (key, value) pairs sorted by key",
        "list the entries as (key, value) tuples in alphabetical order of the keys",
        "collect the key-value pairs as tuples, ordered by key"),
       "sorted({v}.items())", ("sorted_items", "entry_pairs"), "entry_pairs",
       loop="{out} = []\nfor key in sorted({v}):\n    {out}.append((key, {v}[key]))",
       builtin="sorted(zip({v}.keys(), {v}.values()))", keeps_nonempty=True),
    Op("dict_total_long_keys", "dict_iteration", ("dict[str, int]",), "int",
       ("add up the values whose key has more than {arg} letters (0 if there are none)",
        "sum the values stored under keys longer than {arg} characters, or 0 if no key is that long",
        "compute the total of the values whose keys have a length greater than {arg}"),
       "sum(value for key, value in {v}.items() if len(key) > {arg})", ("long_key_total", "long_total"),
       "long_total",
       loop="{out} = 0\nfor key, value in {v}.items():\n    if len(key) > {arg}:\n        {out} += value",
       arg=KEY_LENGTH),

    # --- dictionary comprehensions ---
    Op("dict_drop_negative", "dict_comprehension", ("dict[str, int]",), "same",
       ("drop the entries whose value is negative, keeping the rest in order",
        "keep only the entries with a value of zero or more",
        "remove every key that maps to a number below 0"),
       "{{key: value for key, value in {v}.items() if value >= 0}}", ("non_negative", "kept"), "kept",
       loop="{out} = {{}}\nfor key, value in {v}.items():\n    if value >= 0:\n        {out}[key] = value",
       builtin="dict(filter(lambda pair: pair[1] >= 0, {v}.items()))"),
    Op("dict_add_to_values", "dict_comprehension", ("dict[str, int]",), "same",
       ("add {arg} to every value, keeping the keys", "increase each value of the dictionary by {arg}",
        "shift every value by {arg}, leaving the keys as they are"),
       "{{key: value + {arg} for key, value in {v}.items()}}", ("shifted", "adjusted"), "shifted",
       loop="{out} = {{}}\nfor key, value in {v}.items():\n    {out}[key] = value + {arg}",
       builtin="dict(map(lambda pair: (pair[0], pair[1] + {arg}), {v}.items()))", arg=OFFSET,
       keeps_nonempty=True),
    Op("dict_upper_keys", "dict_comprehension", ("dict[str, int]",), "same",
       ("write every key in upper case, keeping its value (keys that become equal keep the last value)",
        "turn each key into capital letters and keep the values as they are",
        "rebuild the dictionary with upper-case keys"),
       "{{key.upper(): value for key, value in {v}.items()}}", ("upper_keys", "shouting"), "upper_keys",
       loop="{out} = {{}}\nfor key, value in {v}.items():\n    {out}[key.upper()] = value",
       builtin="dict(zip(map(str.upper, {v}), {v}.values()))", keeps_nonempty=True),
    Op("dict_word_lengths", "dict_comprehension", ("list[str]",), "dict[str, int]",
       ("map each word to its length in a dictionary, a repeated word appearing once",
        "build a dictionary from each distinct word to its number of letters, in order of first appearance",
        "make a dictionary whose keys are the words and whose values are their lengths"),
       "{{word: len(word) for word in {v}}}", ("word_lengths", "lengths"), "word_lengths",
       loop="{out} = {{}}\nfor word in {v}:\n    {out}[word] = len(word)",
       builtin="dict(zip({v}, map(len, {v})))", keeps_nonempty=True),
    Op("groups_sizes", "dict_comprehension", ("dict[str, list[str]]",), "dict[str, int]",
       ("replace each list by its length, keeping the keys",
        "map every key to the number of words in its list",
        "count the words under each key, giving a dictionary of sizes"),
       "{{key: len(value) for key, value in {v}.items()}}", ("group_sizes", "sizes"), "group_sizes",
       loop="{out} = {{}}\nfor key, value in {v}.items():\n    {out}[key] = len(value)",
       builtin="dict(zip({v}, map(len, {v}.values())))", keeps_nonempty=True),
    Op("groups_sorted_members", "dict_comprehension", GROUPS, "same",
       ("sort the list under each key in alphabetical order", "put every group's words in ascending order, keeping "
        "the keys", "replace each list of words by a sorted copy of it"),
       "{{key: sorted(value) for key, value in {v}.items()}}", ("sorted_groups", "tidy_groups"), "sorted_groups",
       loop="{out} = {{}}\nfor key, value in {v}.items():\n    {out}[key] = sorted(value)",
       builtin="dict(zip({v}, map(sorted, {v}.values())))", keeps_nonempty=True),

    # --- counting with a dictionary ---
    Op("count_first_letters", "dict_counting", ("list[str]",), "dict[str, int]",
       ("count how many words start with each letter, as a dictionary from first letter to count in order of "
        "first appearance",
        "build a dictionary that maps each first letter to the number of words beginning with it",
        "tally the words by their first letter into a dictionary of counts"),
       "{{word[:1]: [other[:1] for other in {v}].count(word[:1]) for word in {v}}}",
       ("first_letter_counts", "initials"), "initial_counts",
       loop="{out} = {{}}\nfor word in {v}:\n    {out}[word[:1]] = {out}.get(word[:1], 0) + 1",
       keeps_nonempty=True),
    Op("count_last_letters", "dict_counting", ("list[str]",), "dict[str, int]",
       ("count how many words end with each letter, as a dictionary from last letter to count in order of "
        "first appearance",
        "build a dictionary that maps each final letter to the number of words ending with it",
        "tally the words by their last letter into a dictionary of counts"),
       "{{word[-1:]: [other[-1:] for other in {v}].count(word[-1:]) for word in {v}}}",
       ("last_letter_counts", "endings"), "ending_counts",
       loop="{out} = {{}}\nfor word in {v}:\n    {out}[word[-1:]] = {out}.get(word[-1:], 0) + 1",
       keeps_nonempty=True),
    Op("merge_counts", "dict_counting", ("dict[str, int]",), "same",
       ("merge in the counts of {arg}, adding the values of keys found in both",
        "combine the tallies with {arg}: every key of either, with the sum of its two values (a missing one counts "
        "as 0)",
        "add the dictionary {arg} into the counts, keys of {arg} that are new coming last"),
       "{{key: {v}.get(key, 0) + {arg}.get(key, 0) for key in [*{v}, *{arg}]}}", ("merged", "combined_counts"),
       "merged",
       loop="{out} = dict({v})\nfor key, value in {arg}.items():\n    {out}[key] = {out}.get(key, 0) + value",
       arg=MORE_COUNTS, keeps_nonempty=True),

    # --- grouping with a dictionary ---
    Op("group_by_length", "dict_grouping", ("list[str]",), "dict[int, list[str]]",
       ("group the words by their length, as a dictionary from each length to the words of that length in "
        "their original order",
        "build a dictionary that maps each word length to the list of words having it, in order",
        "sort the words into groups keyed by length, keeping their order inside each group"),
       "{{len(word): [other for other in {v} if len(other) == len(word)] for word in {v}}}",
       ("by_length", "length_groups"), "length_groups",
       loop="{out} = {{}}\nfor word in {v}:\n    if len(word) not in {out}:\n        {out}[len(word)] = []\n"
            "    {out}[len(word)].append(word)",
       keeps_nonempty=True),
    Op("group_by_first_letter", "dict_grouping", ("list[str]",), "dict[str, list[str]]",
       ("group the words by their first letter, as a dictionary from each letter to its words in their "
        "original order",
        "build a dictionary that maps every first letter to the list of words starting with it",
        "sort the words into buckets keyed by their initial letter, keeping their order inside each bucket"),
       "{{word[:1]: [other for other in {v} if other[:1] == word[:1]] for word in {v}}}",
       ("by_letter", "letter_groups"), "letter_groups",
       loop="{out} = {{}}\nfor word in {v}:\n    {out}.setdefault(word[:1], []).append(word)",
       keeps_nonempty=True),
    Op("dict_invert", "dict_grouping", ("dict[str, int]",), "dict[int, list[str]]",
       ("invert the dictionary, mapping each value to the list of keys that have it, in their original order",
        "group the keys by their value, building a dictionary from each value to its keys",
        "turn the dictionary around so that every value maps to the list of keys that held it"),
       "{{value: [key for key in {v} if {v}[key] == value] for value in {v}.values()}}",
       ("inverted", "by_value"), "inverted",
       loop="{out} = {{}}\nfor key, value in {v}.items():\n    if value not in {out}:\n        {out}[value] = []\n"
            "    {out}[value].append(key)",
       keeps_nonempty=True),
    Op("groups_flatten", "dict_grouping", GROUPS, "list[str]",
       ("join all the groups into one list of words, group by group in the dictionary's order",
        "collect every word from every list into a single flat list, keeping their order",
        "flatten the dictionary's lists into one list, one group after another"),
       "[word for value in {v}.values() for word in value]", ("all_words", "flattened"), "all_words",
       loop="{out} = []\nfor value in {v}.values():\n    for word in value:\n        {out}.append(word)",
       builtin="sum({v}.values(), [])"),
    Op("groups_total", "dict_grouping", GROUPS, "int",
       ("count the words across all the groups", "add up the lengths of all the lists",
        "find the total number of words stored in the dictionary's lists"),
       "sum(len(value) for value in {v}.values())", ("word_total", "member_count"), "word_total",
       loop="{out} = 0\nfor value in {v}.values():\n    {out} += len(value)",
       builtin="sum(map(len, {v}.values()))"),
    Op("groups_largest_key", "dict_grouping", ("dict[str, list[str]]",), "str",
       ("find the key whose list is the longest, the first such key on ties",
        "pick the key with the most words in its group (the earliest one if several tie)",
        "select the key of the largest group, preferring the earliest key on a tie"),
       "max({v}, key=lambda key: len({v}[key]))", ("largest_group", "biggest_group"), "largest_group",
       loop="{out} = list({v})[0]\nfor key, value in {v}.items():\n    if len(value) > len({v}[{out}]):\n"
            "        {out} = key",
       nonempty=True),
    Op("group_keys_sorted", "dict_grouping", ("dict[int, list[str]]",), "list[int]",
       ("list the keys in ascending order", "collect the dictionary's integer keys sorted from smallest to largest",
        "take the keys of the dictionary and sort them in increasing order"),
       "sorted({v})", ("sorted_keys", "key_order"), "key_order",
       loop="{out} = []\nfor key in {v}:\n    {out}.append(key)\n{out}.sort()",
       builtin="sorted({v}.keys())", keeps_nonempty=True),

    # --- removing duplicates with a set ---
    Op("set_unique", "set_dedupe", ("list[int]",), "set[int]",
       ("put the numbers into a set, dropping duplicates", "collect the distinct values as a set",
        "build the set of the numbers"),
       "{{x for x in {v}}}", ("unique", "distinct"), "unique_set",
       loop="{out} = set()\nfor x in {v}:\n    {out}.add(x)",
       builtin="set({v})", keeps_nonempty=True),
    Op("set_sorted", "set_dedupe", ("set[int]",), "list[int]",
       ("list the set's members in ascending order", "turn the set into a list sorted from smallest to largest",
        "sort the members of the set in increasing order into a list"),
       "sorted({v})", ("sorted_members", "members_list"), "members_list",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x)\n{out}.sort()",
       keeps_nonempty=True),
    Op("set_size", "set_dedupe", ("set[int]",), "int",
       ("count the members of the set", "find how many values the set holds",
        "compute the size of the set (0 for an empty set)"),
       "len({v})", ("set_size", "member_count"), "member_count",
       loop="{out} = 0\nfor x in {v}:\n    {out} += 1"),
    Op("sum_distinct", "set_dedupe", ("list[int]", "set[int]"), "int",
       ("add up the distinct values, counting each value once", "sum the numbers without counting repeats",
        "compute the total of the unique values (0 when there are none)"),
       "sum(set({v}))", ("distinct_sum", "unique_total"), "distinct_sum",
       loop="{out} = 0\nseen = set()\nfor x in {v}:\n    if x not in seen:\n        seen.add(x)\n        {out} += x"),
    Op("set_evens", "set_dedupe", ("set[int]",), "same",
       ("keep only the even members of the set", "build the set of the members divisible by 2",
        "drop the odd members from the set"),
       "{{x for x in {v} if x % 2 == 0}}", ("even_members", "evens"), "even_members",
       loop="{out} = set()\nfor x in {v}:\n    if x % 2 == 0:\n        {out}.add(x)",
       builtin="set(filter(lambda x: x % 2 == 0, {v}))"),

    # --- fast membership tests ---
    Op("first_repeat", "set_membership", ("list[int]",), "opt_int",
       ("find the first number that appears for the second time while reading left to right, or None if no "
        "number repeats",
        "return the earliest value that has already been seen before it, or None when all values are distinct",
        "scan the numbers with a set of those seen so far and stop at the first one seen again, giving None if "
        "there is none"),
       "next((x for i, x in enumerate({v}) if x in {v}[:i]), None)", ("first_repeat", "first_seen_twice"),
       "first_again",
       loop="{out} = None\nseen = set()\nfor x in {v}:\n    if x in seen:\n        {out} = x\n        break\n"
            "    seen.add(x)"),
    Op("repeated_items", "set_membership", ("list[int]",), "same",
       ("list the items that appear more than once, each once, in ascending order",
        "find the repeated values, sorted and without duplicates",
        "collect every value that occurs at least twice, sorted in increasing order"),
       "sorted({{item for item in {v} if {v}.count(item) > 1}})", ("repeated", "duplicates"), "repeated",
       loop="{out} = []\nseen = set()\nfor item in {v}:\n    if item in seen and item not in {out}:\n"
            "        {out}.append(item)\n    seen.add(item)\n{out}.sort()",
       builtin="sorted(set(filter(lambda item: {v}.count(item) > 1, {v})))"),
    Op("keep_members", "set_membership", ("list[int]",), "same",
       ("keep only the numbers that also appear in {arg}, in their order and with their repeats",
        "select the values found in {arg}, keeping the original order",
        "drop every number that is missing from {arg}, keeping the others in order"),
       "[x for x in {v} if x in {arg}]", ("allowed", "members"), "allowed_items",
       loop="{out} = []\nseen = set({arg})\nfor x in {v}:\n    if x in seen:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x in {arg}, {v}))", arg=OTHERS),
    Op("drop_members", "set_membership", ("list[int]",), "same",
       ("remove every number that appears in {arg}, keeping the others in order",
        "keep only the values not found in {arg}, in their original order",
        "filter out the numbers contained in {arg}"),
       "[x for x in {v} if x not in {arg}]", ("remaining", "without_others"), "remaining",
       loop="{out} = []\nseen = set({arg})\nfor x in {v}:\n    if x not in seen:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x not in {arg}, {v}))", arg=OTHERS),

    # --- union, intersection and difference ---
    Op("set_common", "set_algebra", ("list[int]", "set[int]"), "list[int]",
       ("find the values that also appear in {arg}, each once, in ascending order",
        "compute the intersection with {arg} as a sorted list of distinct values",
        "list, in increasing order and once each, the numbers shared with {arg}"),
       "sorted(set({v}) & set({arg}))", ("common", "shared"), "common",
       loop="{out} = []\nfor x in {v}:\n    if x in {arg} and x not in {out}:\n        {out}.append(x)\n{out}.sort()",
       builtin="sorted(set({v}).intersection({arg}))", arg=OTHERS),
    Op("set_union", "set_algebra", ("list[int]", "set[int]"), "list[int]",
       ("combine the values with those of {arg} into one sorted list without duplicates",
        "compute the union with {arg}, listing each value once in ascending order",
        "merge in the values of {arg}, keeping each value once and sorting the result in increasing order"),
       "sorted(set({v}) | set({arg}))", ("union", "combined"), "combined",
       loop="{out} = []\nfor x in [*{v}, *{arg}]:\n    if x not in {out}:\n        {out}.append(x)\n{out}.sort()",
       builtin="sorted(set({v}).union({arg}))", arg=OTHERS, keeps_nonempty=True),
    Op("set_difference", "set_algebra", ("list[int]", "set[int]"), "list[int]",
       ("list the values that do not appear in {arg}, each once, in ascending order",
        "remove the values of {arg} and list the remaining distinct values in ascending order",
        "find, sorted and without repeats, the numbers that are missing from {arg}"),
       "sorted(set({v}) - set({arg}))", ("difference", "only_here"), "only_here",
       loop="{out} = []\nfor x in {v}:\n    if x not in {arg} and x not in {out}:\n        {out}.append(x)\n"
            "{out}.sort()",
       builtin="sorted(set({v}).difference({arg}))", arg=OTHERS),
    Op("set_symmetric", "set_algebra", ("list[int]", "set[int]"), "list[int]",
       ("list the values found in exactly one of the numbers and {arg}, each once, in ascending order",
        "compute the symmetric difference with {arg} as a sorted list of distinct values",
        "find the values present either here or in {arg} but not in both, once each, in increasing order"),
       "sorted(set({v}) ^ set({arg}))", ("symmetric", "either_not_both"), "one_side",
       loop="{out} = []\nfor x in [*{v}, *{arg}]:\n    if (x in {v}) != (x in {arg}) and x not in {out}:\n"
            "        {out}.append(x)\n{out}.sort()",
       builtin="sorted(set({v}).symmetric_difference({arg}))", arg=OTHERS),

    # --- tuples ---
    Op("tuple_sum", "tuple_unpacking", ("tuple[int, int]",), "int",
       ("add the two numbers of the pair", "compute the sum of the pair's two values",
        "unpack the pair and add its parts together"),
       "{v}[0] + {v}[1]", ("pair_sum", "sum_of_pair"), "pair_sum",
       loop="left, right = {v}\n{out} = left + right",
       builtin="sum({v})"),
    Op("tuple_product", "tuple_unpacking", ("tuple[int, int]",), "int",
       ("multiply the two numbers of the pair", "compute the product of the pair's two values",
        "unpack the pair and multiply its parts together"),
       "{v}[0] * {v}[1]", ("pair_product", "product"), "pair_product",
       loop="left, right = {v}\n{out} = left * right"),
    Op("tuple_swap", "tuple_unpacking", ("tuple[int, int]",), "same",
       ("swap the two numbers of the pair", "exchange the first and the second value of the pair",
        "build the pair with its two items in reverse order"),
       "({v}[1], {v}[0])", ("swapped", "flipped"), "swapped",
       loop="left, right = {v}\n{out} = (right, left)",
       builtin="tuple(reversed({v}))"),
    Op("tuple_larger", "tuple_unpacking", ("tuple[int, int]",), "int",
       ("take the larger of the two numbers of the pair", "pick the bigger value of the pair",
        "find which of the two numbers is greater and keep it (either one if they are equal)"),
       "{v}[0] if {v}[0] >= {v}[1] else {v}[1]", ("larger", "bigger"), "larger",
       loop="left, right = {v}\nif left >= right:\n    {out} = left\nelse:\n    {out} = right",
       builtin="max({v})"),
    Op("tuple_ordered", "tuple_unpacking", ("tuple[int, int]",), "same",
       ("put the pair in increasing order, smaller number first",
        "order the two values of the pair so that the first is not greater than the second",
        "rearrange the pair as (smaller, larger)"),
       "({v}[0], {v}[1]) if {v}[0] <= {v}[1] else ({v}[1], {v}[0])", ("ordered", "in_order"), "ordered",
       loop="left, right = {v}\nif left > right:\n    left, right = right, left\n{out} = (left, right)",
       builtin="tuple(sorted({v}))"),
    Op("tuple_distance", "tuple_unpacking", ("tuple[int, int]",), "int",
       ("find the distance between the two numbers of the pair, the absolute value of their difference",
        "compute how far apart the pair's two values are (never negative)",
        "subtract the smaller number of the pair from the larger one"),
       "abs({v}[0] - {v}[1])", ("distance", "gap"), "gap",
       loop="left, right = {v}\n{out} = left - right\nif {out} < 0:\n    {out} = -{out}",
       builtin="max({v}) - min({v})"),
    Op("min_and_max", "tuple_unpacking", ("list[int]",), "tuple[int, int]",
       ("find the smallest and the largest number, as a (minimum, maximum) pair",
        "pack the minimum and the maximum of the numbers into a tuple, smallest first",
        "compute the lowest and the highest value and return them together as a pair"),
       "(min({v}), max({v}))", ("min_max", "extremes", "bounds"), "extremes",
       loop="left, right = {v}[0], {v}[0]\nfor x in {v}:\n    if x < left:\n        left = x\n    if x > right:\n"
            "        right = x\n{out} = (left, right)",
       builtin="(sorted({v})[0], sorted({v})[-1])", nonempty=True),
    Op("even_odd_counts", "tuple_unpacking", ("list[int]",), "tuple[int, int]",
       ("count the even and the odd numbers, as an (evens, odds) pair",
        "pack the number of even values and the number of odd values into a tuple, evens first",
        "find how many numbers are even and how many are odd, as a pair of counts"),
       "(sum(1 for x in {v} if x % 2 == 0), sum(1 for x in {v} if x % 2 != 0))", ("parity_counts", "even_odd"),
       "parity_counts",
       loop="left, right = 0, 0\nfor x in {v}:\n    if x % 2 == 0:\n        left += 1\n    else:\n        right += 1\n"
            "{out} = (left, right)",
       builtin="(len(list(filter(lambda x: x % 2 == 0, {v}))), len(list(filter(lambda x: x % 2 != 0, {v}))))"),
    Op("first_and_last", "tuple_unpacking", ("list[int]",), "tuple[int, int]",
       ("pair the first number with the last one (the same number twice for a single item)",
        "pack the first and the last value into a tuple",
        "take the first and the last item together as a pair"),
       "({v}[0], {v}[-1])", ("ends", "first_last"), "ends", nonempty=True),
    Op("total_and_count", "tuple_unpacking", ("list[int]",), "tuple[int, int]",
       ("compute the total and the number of the values, as a (sum, count) pair",
        "pack the sum of the numbers and how many there are into a tuple, sum first",
        "find both the sum and the count of the numbers and return them together"),
       "(sum({v}), len({v}))", ("sum_count", "total_count"), "sum_count",
       loop="left, right = 0, 0\nfor x in {v}:\n    left += x\n    right += 1\n{out} = (left, right)"),

    # --- zip and enumerate ---
    Op("zip_with_numbers", "zip_pairs", ("list[str]",), "list[tuple[str, int]]",
       ("pair each word with the number at the same position in {arg}, stopping at the end of the shorter list",
        "zip the words with {arg} into (word, number) tuples, as many as the shorter list allows",
        "match the words with {arg} position by position into a list of pairs, ignoring leftovers of the longer one"),
       "[(word, x) for word, x in zip({v}, {arg})]", ("zipped", "paired"), "paired",
       loop="{out} = []\nfor i in range(min(len({v}), len({arg}))):\n    {out}.append(({v}[i], {arg}[i]))",
       builtin="list(zip({v}, {arg}))", arg=NUMBERS),
    Op("enumerate_words", "zip_pairs", ("list[str]",), "list[tuple[str, int]]",
       ("pair each word with its position, counting from 0, as (word, index) tuples",
        "attach to every word its index in the list, giving a list of (word, position) pairs",
        "number the words from 0, making a (word, number) tuple for each"),
       "[(word, i) for i, word in enumerate({v})]", ("numbered", "indexed"), "numbered",
       loop="{out} = []\nfor i in range(len({v})):\n    {out}.append(({v}[i], i))",
       builtin="list(zip({v}, range(len({v}))))", keeps_nonempty=True),
    Op("zip_add", "zip_pairs", ("list[int]",), "same",
       ("add the numbers position by position to those of {arg}, stopping at the end of the shorter list",
        "sum each number with the item at the same index in {arg}, ignoring leftovers of the longer list",
        "combine the numbers with {arg} by adding the items that share a position"),
       "[x + y for x, y in zip({v}, {arg})]", ("pairwise_sums", "added"), "pair_sums",
       loop="{out} = []\nfor i in range(min(len({v}), len({arg}))):\n    {out}.append({v}[i] + {arg}[i])",
       builtin="list(map(lambda x, y: x + y, {v}, {arg}))", arg=NUMBERS),
    Op("pair_names", "zip_pairs", ("list[tuple[str, int]]",), "list[str]",
       ("take the word from each pair, keeping their order", "collect the first item of every pair into a list",
        "unzip the pairs and keep only their words"),
       "[key for key, value in {v}]", ("names", "labels_only"), "names_only",
       loop="{out} = []\nfor key, value in {v}:\n    {out}.append(key)",
       builtin="list(map(lambda pair: pair[0], {v}))", keeps_nonempty=True),
    Op("pair_values", "zip_pairs", ("list[tuple[str, int]]",), "list[int]",
       ("take the number from each pair, keeping their order", "collect the second item of every pair into a list",
        "unzip the pairs and keep only their integers"),
       "[value for key, value in {v}]", ("values_only", "numbers_only"), "values_only",
       loop="{out} = []\nfor key, value in {v}:\n    {out}.append(value)",
       builtin="list(map(lambda pair: pair[1], {v}))", keeps_nonempty=True),

    # --- (name, value) records ---
    Op("pairs_to_dict", "pair_records", ("list[tuple[str, int]]",), "dict[str, int]",
       ("turn the pairs into a dictionary from word to number, a later pair replacing an earlier one with the "
        "same word",
        "build a dictionary out of the (word, number) pairs, keeping the last number seen for a repeated word",
        "convert the list of pairs into a dictionary, where a repeated word keeps its final number"),
       "{{key: value for key, value in {v}}}", ("as_dict", "lookup"), "lookup",
       loop="{out} = {{}}\nfor key, value in {v}:\n    {out}[key] = value",
       builtin="dict({v})", keeps_nonempty=True),
    Op("pairs_names_above", "pair_records", ("list[tuple[str, int]]",), "list[str]",
       ("list the words of the pairs whose number is greater than {arg}, in their order",
        "collect, in order, the word of every pair with a number above {arg}",
        "find, in order, the words that come with a number strictly larger than {arg}"),
       "[key for key, value in {v} if value > {arg}]", ("names_above", "winners"), "winners",
       loop="{out} = []\nfor key, value in {v}:\n    if value > {arg}:\n        {out}.append(key)",
       builtin="list(map(lambda pair: pair[0], filter(lambda pair: pair[1] > {arg}, {v})))", arg=THRESHOLD),
    Op("pairs_sum_values", "pair_records", ("list[tuple[str, int]]",), "int",
       ("add up the numbers of all the pairs", "compute the total of the values in the pairs (0 if there are none)",
        "sum the second item of every pair"),
       "sum(value for key, value in {v})", ("pairs_total", "grand_total"), "grand_total",
       loop="{out} = 0\nfor key, value in {v}:\n    {out} += value",
       builtin="sum(map(lambda pair: pair[1], {v}))"),
    Op("pairs_sort_by_value", "pair_records", ("list[tuple[str, int]]",), "same",
       ("sort the pairs by their number in ascending order, breaking ties alphabetically by word",
        "order the pairs from the smallest number to the largest, and alphabetically by word on equal numbers",
        "rearrange the pairs in increasing order of number, then of word"),
       "[(key, value) for value, key in sorted((value, key) for key, value in {v})]",
       ("by_value", "ranked"), "ranked",
       builtin="sorted({v}, key=lambda pair: (pair[1], pair[0]))", keeps_nonempty=True),
    Op("pairs_best_name", "pair_records", ("list[tuple[str, int]]",), "str",
       ("find the word with the highest number, taking the first such pair on ties",
        "pick the word of the pair with the largest number (the earliest pair if several tie)",
        "select the word that comes with the maximum number, preferring the earliest pair on a tie"),
       "max({v}, key=lambda pair: pair[1])[0]", ("best_name", "winner"), "winner",
       loop="best = {v}[0]\nfor pair in {v}:\n    if pair[1] > best[1]:\n        best = pair\n{out} = best[0]",
       nonempty=True),
    Op("pairs_totals_by_name", "pair_records", ("list[tuple[str, int]]",), "dict[str, int]",
       ("add up the numbers of each word into a dictionary from word to total, in order of first appearance",
        "build a dictionary that maps every word to the sum of its numbers across all the pairs",
        "total the numbers per word, giving a dictionary keyed by word in order of first appearance"),
       "{{pair[0]: sum(value for key, value in {v} if key == pair[0]) for pair in {v}}}",
       ("totals_by_name", "name_totals"), "name_totals",
       loop="{out} = {{}}\nfor key, value in {v}:\n    {out}[key] = {out}.get(key, 0) + value",
       keeps_nonempty=True),

    # --- lists of lists as tables ---
    Op("grid_row_sums", "grid_tables", ("grid",), "list[int]",
       ("compute the sum of each row", "add up every row, giving one total per row",
        "make a list of the row totals, top to bottom"),
       "[sum(row) for row in {v}]", ("row_sums", "row_totals"), "row_sums",
       loop="{out} = []\nfor row in {v}:\n    {out}.append(0)\n    for cell in row:\n        {out}[-1] += cell",
       builtin="list(map(sum, {v}))", keeps_nonempty=True),
    Op("grid_column_sums", "grid_tables", ("grid",), "list[int]",
       ("compute the sum of each column, left to right (an empty grid gives an empty list)",
        "add up every column, giving one total per column",
        "make a list of the column totals, from the first column to the last"),
       "[sum(row[j] for row in {v}) for j in range(len({v}[0]))] if {v} else []", ("column_sums", "col_totals"),
       "column_sums",
       loop="{out} = [0] * (len({v}[0]) if {v} else 0)\nfor row in {v}:\n    for j in range(len(row)):\n"
            "        {out}[j] += row[j]",
       builtin="list(map(sum, zip(*{v})))", keeps_nonempty=True),
    Op("grid_flatten", "grid_tables", ("grid",), "list[int]",
       ("flatten the grid into one list, row by row", "collect every cell into a single list, reading each row "
        "left to right, top to bottom", "turn the table into a flat list of its cells in reading order"),
       "[cell for row in {v} for cell in row]", ("flat", "cells_flat"), "flat",
       loop="{out} = []\nfor row in {v}:\n    for cell in row:\n        {out}.append(cell)",
       builtin="sum({v}, [])", keeps_nonempty=True),
    Op("grid_row_max", "grid_tables", ("grid",), "list[int]",
       ("find the largest cell of each row", "make a list holding the maximum of every row, top to bottom",
        "take the biggest number in each row"),
       "[max(row) for row in {v}]", ("row_maxima", "row_peaks"), "row_peaks",
       loop="{out} = []\nfor row in {v}:\n    best = row[0]\n    for cell in row:\n        if cell > best:\n"
            "            best = cell\n    {out}.append(best)",
       builtin="list(map(max, {v}))", keeps_nonempty=True),
    Op("grid_total", "grid_tables", ("grid",), "int",
       ("add up every cell of the grid", "compute the sum of all the numbers in the table (0 for an empty grid)",
        "find the grand total of the cells"),
       "sum(sum(row) for row in {v})", ("grid_total", "cell_total"), "cell_total",
       loop="{out} = 0\nfor row in {v}:\n    for cell in row:\n        {out} += cell",
       builtin="sum(map(sum, {v}))"),
    Op("grid_count_negative", "grid_tables", ("grid",), "int",
       ("count the negative cells of the grid", "find how many cells hold a number below zero",
        "compute the number of cells that are less than 0"),
       "sum(1 for row in {v} for cell in row if cell < 0)", ("negative_cells", "below_zero"), "negative_cells",
       loop="{out} = 0\nfor row in {v}:\n    for cell in row:\n        if cell < 0:\n            {out} += 1",
       builtin="sum(map(lambda row: len(list(filter(lambda cell: cell < 0, row))), {v}))"),
    Op("grid_double", "grid_tables", ("grid",), "same",
       ("double every cell of the grid, keeping its shape", "multiply each number in the table by 2",
        "build the same grid with every value twice as large"),
       "[[cell * 2 for cell in row] for row in {v}]", ("doubled", "double_grid"), "doubled",
       loop="{out} = []\nfor row in {v}:\n    {out}.append([])\n    for cell in row:\n"
            "        {out}[-1].append(cell * 2)",
       builtin="list(map(lambda row: list(map(lambda cell: cell * 2, row)), {v}))", keeps_nonempty=True),
    Op("grid_clamp_negative", "grid_tables", ("grid",), "same",
       ("replace every negative cell by 0, keeping the other cells",
        "set the cells below zero to 0 and leave the rest of the grid unchanged",
        "clip the grid so that no cell is negative, turning negatives into 0"),
       "[[cell if cell >= 0 else 0 for cell in row] for row in {v}]", ("clamped", "no_negatives"), "clamped",
       loop="{out} = []\nfor row in {v}:\n    {out}.append([])\n    for cell in row:\n        if cell < 0:\n"
            "            {out}[-1].append(0)\n        else:\n            {out}[-1].append(cell)",
       builtin="[list(map(lambda cell: max(cell, 0), row)) for row in {v}]", keeps_nonempty=True),
    Op("grid_first_column", "grid_tables", ("grid",), "list[int]",
       ("take the first cell of every row", "collect the leftmost column as a list, top to bottom",
        "extract column 0 of the grid"),
       "[row[0] for row in {v}]", ("first_column", "left_column"), "left_column",
       loop="{out} = []\nfor row in {v}:\n    {out}.append(row[0])",
       builtin="list(map(lambda row: row[0], {v}))", keeps_nonempty=True),
    Op("grid_best_row", "grid_tables", ("grid",), "int",
       ("find the index of the row with the largest sum, the first such row on ties",
        "pick the position, counting from 0, of the row whose total is the biggest (the earliest one if several "
        "tie)",
        "select the index of the row with the highest sum, preferring the topmost on a tie"),
       "max(range(len({v})), key=lambda i: sum({v}[i]))", ("best_row", "top_row"), "top_row",
       loop="{out} = 0\nfor i in range(len({v})):\n    if sum({v}[i]) > sum({v}[{out}]):\n        {out} = i",
       nonempty=True),

    # --- transposing and turning a grid ---
    Op("grid_transpose", "grid_turns", ("grid",), "same",
       ("transpose the grid, so that its columns become rows (an empty grid stays empty)",
        "swap the rows and the columns of the table",
        "build the grid whose row i is column i of the original"),
       "[[row[j] for row in {v}] for j in range(len({v}[0]))] if {v} else []", ("transposed", "flipped_axes"),
       "transposed",
       loop="{out} = []\nfor j in range(len({v}[0]) if {v} else 0):\n    {out}.append([])\n    for row in {v}:\n"
            "        {out}[j].append(row[j])",
       builtin="[list(part) for part in zip(*{v})]", keeps_nonempty=True),
    Op("grid_rotate", "grid_turns", ("grid",), "same",
       ("rotate the grid a quarter turn clockwise (an empty grid stays empty)",
        "turn the table 90 degrees to the right, so the bottom row becomes the first column",
        "rotate the grid clockwise by 90 degrees"),
       "[[row[j] for row in {v}[::-1]] for j in range(len({v}[0]))] if {v} else []", ("rotated", "turned"),
       "rotated",
       loop="{out} = []\nfor j in range(len({v}[0]) if {v} else 0):\n    {out}.append([])\n"
            "    for i in range(len({v}) - 1, -1, -1):\n        {out}[j].append({v}[i][j])",
       builtin="[list(part) for part in zip(*reversed({v}))]", keeps_nonempty=True),
    Op("grid_mirror", "grid_turns", ("grid",), "same",
       ("mirror the grid left to right by reversing every row", "reverse the order of the cells in each row",
        "flip the table horizontally, keeping the rows in place"),
       "[row[::-1] for row in {v}]", ("mirrored", "flipped"), "mirrored",
       loop="{out} = []\nfor row in {v}:\n    {out}.append([])\n    for j in range(len(row) - 1, -1, -1):\n"
            "        {out}[-1].append(row[j])",
       builtin="[list(reversed(row)) for row in {v}]", keeps_nonempty=True),
    Op("grid_diagonal_sum", "grid_turns", ("grid",), "int",
       ("add up the main diagonal, the cells at row i and column i for as long as both exist (0 for an empty grid)",
        "compute the sum of the cells whose row index equals their column index",
        "total the diagonal from the top-left corner, stopping at the last row or the last column, whichever "
        "comes first"),
       "sum(row[i] for i, row in enumerate({v}) if i < len(row))", ("diagonal_sum", "trace"), "diagonal",
       loop="{out} = 0\nfor i in range(min(len({v}), len({v}[0]) if {v} else 0)):\n    {out} += {v}[i][i]",
       builtin="sum(map(lambda pair: pair[1][pair[0]] if pair[0] < len(pair[1]) else 0, enumerate({v})))"),
)
