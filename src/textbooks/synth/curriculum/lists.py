"""Operations on lists of integers (and of floats, booleans and words where natural): filters, maps,
slicing, sorting, reductions, counters and running totals, searching, checks with any and all,
neighbours with zip, and nested loops over pairs of positions."""

from __future__ import annotations

from textbooks.synth.curriculum.concepts import Arg, Family, Mistake, Op

THRESHOLD = Arg("int", ("threshold", "limit", "bound", "cutoff", "min_value", "floor_value"))
CAP = Arg("int", ("cap", "ceiling", "upper", "max_allowed", "top"))
OFFSET = Arg("int", ("offset", "delta", "shift", "increment", "step_size"))
FACTOR = Arg("small", ("factor", "multiplier", "scale", "times_by"))
DIVISOR = Arg("pos", ("divisor", "modulus", "period", "d"))
TARGET = Arg("small", ("target", "wanted", "needle", "goal", "query"))
SUM_TARGET = Arg("small", ("target", "goal", "wanted_sum", "total_wanted"))
COUNT = Arg("small", ("n", "k", "count_n", "how_many"))

NUMBERS = ("list[int]", "list[float]")
ITEMS = ("list[int]", "list[str]")

FAMILIES = (
    Family("filters", "python / lists / list comprehensions", "Keeping the items you want",
           ("To filter a list is to build a new list that holds only the items that pass a test. The "
            "original list is left as it was. A list comprehension says it in one line: "
            "`[x for x in items if test(x)]` reads as 'x, for each x in items, if x passes the test'.",
            "Filtering walks through a list once and asks the same yes-or-no question of every item. The "
            "items that answer yes are copied, in their original order, into a new list; the others are "
            "skipped. Nothing is removed from the input, so it can still be used afterwards."),
           (Mistake(wrong="numbers = [1, 2, 3, 4]\nfor x in numbers:\n    if x % 2 == 0:\n"
                          "        numbers.remove(x)\nprint(numbers)\nnumbers = [2, 4, 6]\nfor x in numbers:\n"
                          "    if x % 2 == 0:\n        numbers.remove(x)\nprint(numbers)",
                    why="Removing items from a list while a for loop walks over it makes the loop skip the item "
                        "after each removal: the list shifts left under the loop's position. The first list "
                        "happens to come out right, the second keeps 4.",
                    fixed="numbers = [2, 4, 6]\nodds = [x for x in numbers if x % 2 != 0]\nprint(odds)"),
            Mistake(wrong="numbers = [3, 0, -2, 5]\npositives = [x for x in numbers if x]\nprint(positives)",
                    why="A bare `if x` asks whether `x` is truthy, and every integer except 0 is truthy, "
                        "negative ones included. The test has to say what it means: `x > 0`.",
                    fixed="numbers = [3, 0, -2, 5]\npositives = [x for x in numbers if x > 0]\nprint(positives)"))),
    Family("maps", "python / lists / list comprehensions", "Changing every item of a list",
           ("Mapping applies the same change to every item of a list and collects the results in a new list "
            "of the same length, in the same order. In Python a list comprehension `[f(x) for x in items]` "
            "is the usual way to write it; the built-in `map` does the same lazily.",
            "When every item needs the same treatment (doubled, squared, made positive), write the treatment "
            "once for a single item and let a loop or a comprehension apply it to each one. The new list "
            "always has exactly as many items as the old one."),
           (Mistake(wrong="prices = [3, 5, 8]\nfor price in prices:\n    price = price * 2\nprint(prices)",
                    why="The loop variable is a new name for each item, not a slot in the list: assigning to it "
                        "changes the name, and the list keeps its old values.",
                    fixed="prices = [3, 5, 8]\nprices = [price * 2 for price in prices]\nprint(prices)"),
            Mistake(wrong="numbers = [1, 2, 3]\ndoubled = map(lambda x: x * 2, numbers)\n"
                          "print(doubled == [2, 4, 6])",
                    why="`map` does not build a list: it returns a lazy map object that computes the values only "
                        "when something asks for them, and a map object is never equal to a list. Wrap it in "
                        "`list(...)` to get the values as a list.",
                    fixed="numbers = [1, 2, 3]\ndoubled = list(map(lambda x: x * 2, numbers))\n"
                          "print(doubled == [2, 4, 6])"))),
    Family("list_slicing", "python / lists / list slicing", "Taking parts of a list with slices",
           ("A slice `items[start:stop]` copies the items from position `start` up to, but not including, "
            "position `stop` into a new list. Either end may be left out: `items[:3]` is the first three items "
            "and `items[1:]` is everything but the first. A third number is a step: `items[::2]` takes every "
            "other item, and `items[::-1]` walks backwards.",
            "Slices never raise an IndexError: a slice that runs past the end of the list simply stops there, "
            "and one that selects nothing gives an empty list. That makes them a safe way to cut the first or "
            "last few items off a list, even when the list is shorter than you expected.",
            "Slices can be glued back together with `+`. Moving the first item to the end, for example, is "
            "`items[1:] + items[:1]`: everything after the first item, followed by a one-item slice of the "
            "first. On an empty list both slices are empty, so the result is empty too."),
           (Mistake(wrong="scores = [4, 8, 15, 16, 23]\nk = 0\nprint(scores[-k:])",
                    why="`-0` is just `0`, so `scores[-k:]` with `k = 0` starts at the front and copies the whole "
                        "list instead of taking no items. Count from the front instead: "
                        "`scores[len(scores) - k:]`.",
                    fixed="scores = [4, 8, 15, 16, 23]\nk = 0\nprint(scores[len(scores) - k:])"),)),
    Family("list_sorting", "python / lists / sorting lists with sort and sorted", "Putting a list in order",
           ("Python has two ways to sort. `sorted(items)` returns a new sorted list and leaves `items` alone; "
            "`items.sort()` sorts the list in place and returns `None`. Both put numbers in ascending order "
            "unless you pass `reverse=True`.",
            "Both take a `key`: a function applied to every item to get the value it is sorted by. "
            "`sorted(numbers, key=abs)` orders the numbers by their distance from zero. Python's sort is "
            "stable: items whose keys are equal keep the order they had before.",
            "Sorting by hand shows what the built-in does for you. Insertion sort builds the result one item "
            "at a time: each new item is slid left past every larger item already placed, then inserted "
            "there. It is slow on long lists but easy to follow."),
           (Mistake(wrong="ages = [31, 7, 19]\nages = ages.sort()\nprint(ages)",
                    why="`list.sort()` sorts the list in place and returns `None`; assigning its result back to "
                        "`ages` throws the sorted list away. Either call `ages.sort()` on its own line or write "
                        "`ages = sorted(ages)`.",
                    fixed="ages = [31, 7, 19]\nages = sorted(ages)\nprint(ages)"),)),
    Family("list_reductions", "python / iteration tools / sum min and max with key", "Boiling a list down to one value",
           ("A reduction walks through a list and combines all its items into a single value: the total, the "
            "smallest, the largest. Python has built-ins for the common ones, `sum`, `min` and `max`, and each "
            "is a loop you could write yourself with one variable that holds the answer so far.",
            "`min` and `max` take a `key` function that says what to compare. `max(numbers, key=abs)` returns "
            "the number farthest from zero, itself, not its distance. When several items tie, both return the "
            "first of them.",
            "`min` and `max` raise a ValueError on an empty list, because there is no answer to give. A "
            "function that uses them should either promise a non-empty input or pass `default=` to say what "
            "to return instead."),
           (Mistake(wrong="temps = [-7, -3, -12]\nwarmest = 0\nfor x in temps:\n    if x > warmest:\n"
                          "        warmest = x\nprint(warmest)",
                    why="Starting the answer at 0 only works if some item beats 0. Every temperature here is "
                        "negative, so none replaces it and 0, which is not even in the list, comes out. Start "
                        "from the first item instead.",
                    fixed="temps = [-7, -3, -12]\nwarmest = temps[0]\nfor x in temps:\n    if x > warmest:\n"
                          "        warmest = x\nprint(warmest)"),)),
    Family("list_counters", "python / loops / loop counters and accumulators", "Counters and running totals",
           ("A counter is a variable that starts at 0 before the loop and goes up by one each time the loop "
            "meets an item it is looking for. After the loop it holds how many there were. An accumulator is "
            "the same idea for any value: a total that grows by each item, or a list that grows by one entry "
            "per step.",
            "A running total keeps the total so far and records it after every step, so the result has one "
            "entry per item: for `[1, 2, 3]` the running sums are `[1, 3, 6]`. A running maximum does the "
            "same with the largest value seen so far.",
            "Where the accumulator starts matters. It must be set once, before the loop, to the value that "
            "fits an empty list: 0 for a count or a sum, an empty list for a list of results."),
           (Mistake(wrong="numbers = [2, 5, 8, 3, 6]\nfor x in numbers:\n    count = 0\n    if x % 2 == 0:\n"
                          "        count += 1\nprint(count)",
                    why="The counter is reset to 0 inside the loop, so every item starts the count again and the "
                        "result only says whether the last item was even. Set it once, before the loop.",
                    fixed="numbers = [2, 5, 8, 3, 6]\ncount = 0\nfor x in numbers:\n    if x % 2 == 0:\n"
                          "        count += 1\nprint(count)"),
            Mistake(wrong="numbers = [1, 2, 3]\ntotal = 0\nrunning = []\nfor x in numbers:\n"
                          "    running.append(total)\n    total += x\nprint(running)",
                    why="The total is recorded before the current item is added, so every entry lags one step "
                        "behind and the last item never shows. Add first, then record.",
                    fixed="numbers = [1, 2, 3]\ntotal = 0\nrunning = []\nfor x in numbers:\n    total += x\n"
                          "    running.append(total)\nprint(running)"))),
    Family("list_searching", "python / lists / searching a list with in and index", "Finding an item in a list",
           ("`x in items` answers whether a value is somewhere in a list, and `items.index(x)` gives the "
            "position of its first occurrence. `index` raises a ValueError when the value is missing, so check "
            "with `in` first or return a marker such as -1 or `None` when there is nothing to find.",
            "A search by hand is a loop that stops as soon as it finds what it wants: inside a function, "
            "`return` the answer from inside the loop; otherwise record it and `break`. Only after the loop "
            "has run to the end, without finding anything, is it safe to say the item is not there.",
            "`next((x for x in items if test(x)), None)` is a compact form of the same search: it gives the "
            "first item that passes the test, or the default when none does."),
           (Mistake(wrong="def find(items, target):\n    for i in range(len(items)):\n        if items[i] == target:\n"
                          "            return i\n        else:\n            return -1\n\nprint(find([4, 7, 9], 9))",
                    why="The `else` returns -1 as soon as the first item does not match, so the loop never looks "
                        "past position 0. 'Not found' can only be decided after the whole loop: return -1 after "
                        "it.",
                    fixed="def find(items, target):\n    for i in range(len(items)):\n        if items[i] == target:\n"
                          "            return i\n    return -1\n\nprint(find([4, 7, 9], 9))"),
            Mistake(wrong="numbers = [3, 8, 5]\ntry:\n    print(numbers.index(4))\nexcept ValueError as error:\n"
                          "    print(\"ValueError:\", error)",
                    why="`list.index` does not return -1 for a missing value the way `str.find` does: it raises a "
                        "ValueError. Test membership with `in` before asking for the position.",
                    fixed="numbers = [3, 8, 5]\nprint(numbers.index(4) if 4 in numbers else -1)"))),
    Family("list_checks", "python / iteration tools / any and all", "Yes-or-no questions about a whole list",
           ("`all(test(x) for x in items)` is True when every item passes the test, and "
            "`any(test(x) for x in items)` is True when at least one does. Both stop as soon as the answer is "
            "known: `all` at the first failure, `any` at the first success.",
            "On an empty list `all` gives True (no item fails) and `any` gives False (no item passes). This "
            "is the same answer a loop gives when it starts from True or False and never runs.",
            "Written as a loop, a check starts from the answer for 'nothing went wrong' and changes it the "
            "moment an item proves otherwise; there is no need to look further, so the loop can `break`."),
           (Mistake(wrong="def all_positive(numbers):\n    for x in numbers:\n        if x > 0:\n"
                          "            return True\n    return False\n\nprint(all_positive([3, -1, 2]))",
                    why="Returning True at the first positive number answers 'is any number positive?', not "
                        "'are all of them?'. An all-check may only stop early on a failure; success needs the "
                        "whole loop.",
                    fixed="def all_positive(numbers):\n    for x in numbers:\n        if x <= 0:\n"
                          "            return False\n    return True\n\nprint(all_positive([3, -1, 2]))"),)),
    Family("list_neighbours", "python / loops / looping over two lists with zip", "Comparing each item with the next",
           ("Many questions are about neighbours: how much each value changed from the one before, or whether "
            "the values ever go up. `zip(items, items[1:])` pairs every item with the one after it, so "
            "`for x, y in zip(items, items[1:])` visits each pair of neighbours once.",
            "A list of n items has n - 1 pairs of neighbours, so a result built from pairs has one entry fewer "
            "than the list, and an empty or one-item list has no pairs at all. `zip` stops at the end of the "
            "shorter list, which is exactly what keeps `y` from running off the end."),
           (Mistake(wrong="readings = [3, 7, 4]\nchanges = []\ntry:\n    for i in range(len(readings)):\n"
                          "        changes.append(readings[i + 1] - readings[i])\nexcept IndexError as error:\n"
                          "    print(\"IndexError:\", error)\nprint(changes)",
                    why="The last item has no next item: at `i = len(readings) - 1`, `readings[i + 1]` is past the "
                        "end. Loop over `range(len(readings) - 1)`, or pair the items with `zip`.",
                    fixed="readings = [3, 7, 4]\nchanges = [y - x for x, y in zip(readings, readings[1:])]\n"
                          "print(changes)"),)),
    Family("list_pairs", "python / loops / nested loops", "Looking at every pair of items",
           ("To compare every item with every other item, put one loop inside another: the outer loop picks "
            "a position `i`, and the inner loop runs over the positions `j` after it. Starting the inner loop "
            "at `i + 1` visits each pair of different positions exactly once.",
            "A nested loop over a list of n items does about n * n / 2 steps, which is fine for short lists. "
            "The inner loop runs completely for each step of the outer one, so anything that should be "
            "counted per pair goes in the innermost body."),
           (Mistake(wrong="numbers = [1, 2, 3]\npairs = 0\nfor i in range(len(numbers)):\n"
                          "    for j in range(len(numbers)):\n        if numbers[i] + numbers[j] == 4:\n"
                          "            pairs += 1\nprint(pairs)",
                    why="With both loops starting at 0, the pair (1, 3) is counted twice, once in each order, and "
                        "2 is paired with itself. Start the inner loop at `i + 1` to see each pair of different "
                        "positions once.",
                    fixed="numbers = [1, 2, 3]\npairs = 0\nfor i in range(len(numbers)):\n"
                          "    for j in range(i + 1, len(numbers)):\n        if numbers[i] + numbers[j] == 4:\n"
                          "            pairs += 1\nprint(pairs)"),)),
)

FILTERS = (
    Op("keep_odd", "filters", ("list[int]",), "same",
       ("keep only the odd numbers", "drop every even number", "select the odd values",
        "remove the numbers that are divisible by 2"),
       "[x for x in {v} if x % 2 != 0]", ("odd", "odds"), "odds",
       loop="{out} = []\nfor x in {v}:\n    if x % 2 != 0:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x % 2 != 0, {v}))"),
    Op("keep_greater", "filters", ("list[int]",), "same",
       ("keep only the numbers greater than {arg}", "drop every number that is not above {arg}",
        "select the values larger than {arg}"),
       "[x for x in {v} if x > {arg}]", ("above", "greater", "large"), "large",
       loop="{out} = []\nfor x in {v}:\n    if x > {arg}:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x > {arg}, {v}))", arg=THRESHOLD),
    Op("keep_even", "filters", ("list[int]",), "same",
       ("keep only the even numbers", "drop every odd number", "select the values that are divisible by 2"),
       "[x for x in {v} if x % 2 == 0]", ("even", "evens"), "evens",
       loop="{out} = []\nfor x in {v}:\n    if x % 2 == 0:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x % 2 == 0, {v}))"),
    Op("keep_positive", "filters", NUMBERS, "same",
       ("keep only the positive numbers (greater than zero)", "drop every number that is zero or negative",
        "select the values above 0"),
       "[x for x in {v} if x > 0]", ("positive", "positives"), "positives",
       loop="{out} = []\nfor x in {v}:\n    if x > 0:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x > 0, {v}))"),
    Op("keep_negative", "filters", NUMBERS, "same",
       ("keep only the negative numbers", "drop every number that is zero or positive",
        "select the values below 0"),
       "[x for x in {v} if x < 0]", ("negative", "negatives"), "negatives",
       loop="{out} = []\nfor x in {v}:\n    if x < 0:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x < 0, {v}))"),
    Op("keep_nonzero", "filters", ("list[int]",), "same",
       ("remove every zero", "keep only the numbers that are not zero", "drop the zeros and keep the rest in order"),
       "[x for x in {v} if x != 0]", ("nonzero", "without_zeros"), "nonzero",
       loop="{out} = []\nfor x in {v}:\n    if x != 0:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x != 0, {v}))"),
    Op("keep_less", "filters", ("list[int]",), "same",
       ("keep only the numbers less than {arg}", "drop every number that is {arg} or more",
        "select the values smaller than {arg}"),
       "[x for x in {v} if x < {arg}]", ("below", "smaller", "small"), "small",
       loop="{out} = []\nfor x in {v}:\n    if x < {arg}:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x < {arg}, {v}))", arg=THRESHOLD),
    Op("keep_divisible", "filters", ("list[int]",), "same",
       ("keep only the numbers divisible by {arg}", "select the multiples of {arg}",
        "drop every number that leaves a remainder when divided by {arg}"),
       "[x for x in {v} if x % {arg} == 0]", ("multiples", "divisible"), "multiples",
       loop="{out} = []\nfor x in {v}:\n    if x % {arg} == 0:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x % {arg} == 0, {v}))", arg=DIVISOR),
    Op("remove_value", "filters", ("list[int]",), "same",
       ("remove every occurrence of {arg}", "keep only the items that are not equal to {arg}",
        "drop each item equal to {arg} and keep the rest in order"),
       "[x for x in {v} if x != {arg}]", ("without", "removed"), "kept",
       loop="{out} = []\nfor x in {v}:\n    if x != {arg}:\n        {out}.append(x)",
       builtin="list(filter(lambda x: x != {arg}, {v}))", arg=TARGET),
    Op("keep_once", "filters", ("list[int]",), "same",
       ("keep only the items that appear exactly once", "drop every item that occurs more than once",
        "select the values that are not repeated anywhere in the list"),
       "[x for x in {v} if {v}.count(x) == 1]", ("unique", "singles", "once"), "singles",
       loop="{out} = []\nfor x in {v}:\n    if {v}.count(x) == 1:\n        {out}.append(x)",
       builtin="list(filter(lambda x: {v}.count(x) == 1, {v}))"),
    Op("dedupe", "filters", ITEMS, "same",
       ("remove duplicates, keeping the first occurrence of each item in its place",
        "keep each distinct item once, in the order it first appears",
        "drop every repeated item after its first appearance"),
       "[x for i, x in enumerate({v}) if x not in {v}[:i]]", ("deduped", "distinct"), "deduped",
       loop="{out} = []\nfor x in {v}:\n    if x not in {out}:\n        {out}.append(x)",
       builtin="list(dict.fromkeys({v}))", keeps_nonempty=True),
)

MAPS = (
    Op("square_each", "maps", ("list[int]",), "same",
       ("square each number", "replace every value by its square", "multiply each number by itself"),
       "[x * x for x in {v}]", ("squares", "squared"), "squares",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x * x)",
       builtin="list(map(lambda x: x ** 2, {v}))", keeps_nonempty=True),
    Op("double_each", "maps", ("list[int]",), "same",
       ("double each number", "multiply every value by 2", "replace each number by twice its value"),
       "[x * 2 for x in {v}]", ("doubled", "double"), "doubled",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x * 2)",
       builtin="list(map(lambda x: x * 2, {v}))", keeps_nonempty=True),
    Op("negate_each", "maps", NUMBERS, "same",
       ("negate each number", "flip the sign of every value", "replace each number by its negative"),
       "[-x for x in {v}]", ("negated", "flipped"), "negated",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(-x)",
       builtin="list(map(lambda x: -x, {v}))", keeps_nonempty=True),
    Op("abs_each", "maps", NUMBERS, "same",
       ("take the absolute value of each number", "make every value non-negative by dropping its sign",
        "replace each number by its distance from zero"),
       "[abs(x) for x in {v}]", ("absolute", "magnitudes"), "magnitudes",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(abs(x))",
       builtin="list(map(abs, {v}))", keeps_nonempty=True),
    Op("add_to_each", "maps", ("list[int]",), "same",
       ("add {arg} to each number", "shift every value by {arg}", "increase each number by {arg}"),
       "[x + {arg} for x in {v}]", ("shifted", "offset"), "shifted",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x + {arg})",
       builtin="list(map(lambda x: x + {arg}, {v}))", arg=OFFSET, keeps_nonempty=True),
    Op("multiply_each", "maps", ("list[int]",), "same",
       ("multiply each number by {arg}", "scale every value by {arg}", "replace each number by {arg} times its value"),
       "[x * {arg} for x in {v}]", ("scaled", "multiplied"), "scaled",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x * {arg})",
       builtin="list(map(lambda x: x * {arg}, {v}))", arg=FACTOR, keeps_nonempty=True),
    Op("mod_each", "maps", ("list[int]",), "same",
       ("replace each number by its remainder when divided by {arg} (from 0 to {arg} - 1, as Python's % gives)",
        "take every value modulo {arg}, so each result lies between 0 and {arg} - 1",
        "reduce each number to its remainder after division by {arg}, using Python's % operator"),
       "[x % {arg} for x in {v}]", ("remainders", "mod"), "remainders",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x % {arg})",
       builtin="list(map(lambda x: x % {arg}, {v}))", arg=DIVISOR, keeps_nonempty=True),
    Op("cube_each", "maps", ("list[int]",), "same",
       ("cube each number", "raise every value to the third power", "replace each number by x * x * x"),
       "[x ** 3 for x in {v}]", ("cubes", "cubed"), "cubes",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x * x * x)",
       builtin="list(map(lambda x: x ** 3, {v}))", keeps_nonempty=True),
    Op("halve_each", "maps", ("list[int]",), "same",
       ("halve each number, rounding down (so 7 becomes 3 and -7 becomes -4)",
        "floor-divide every value by 2 with //",
        "replace each number by half of it, rounded down to a whole number as // does"),
       "[x // 2 for x in {v}]", ("halved", "halves"), "halves",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x // 2)",
       builtin="list(map(lambda x: x // 2, {v}))", keeps_nonempty=True),
    Op("halve_exact", "maps", ("list[int]",), "list[float]",
       ("divide each number by 2 exactly, giving floats (7 becomes 3.5)",
        "halve every value with true division /, so the results are floats",
        "replace each number by half of it as a float"),
       "[x / 2 for x in {v}]", ("halves", "halved", "half"), "halves",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x / 2)",
       builtin="list(map(lambda x: x / 2, {v}))", keeps_nonempty=True),
    Op("clamp_negatives", "maps", ("list[int]",), "same",
       ("replace every negative number by 0", "clamp the negative values to zero and keep the others",
        "turn each number below 0 into 0"),
       "[max(x, 0) for x in {v}]", ("clamped", "nonnegative"), "clamped",
       loop="{out} = []\nfor x in {v}:\n    if x < 0:\n        {out}.append(0)\n    else:\n        {out}.append(x)",
       builtin="list(map(lambda x: max(x, 0), {v}))", keeps_nonempty=True),
    Op("cap_each", "maps", ("list[int]",), "same",
       ("replace every number above {arg} by {arg}", "cap each value at {arg}",
        "limit the numbers so that none is larger than {arg}, lowering the big ones to {arg}"),
       "[min(x, {arg}) for x in {v}]", ("capped", "limited"), "capped",
       loop="{out} = []\nfor x in {v}:\n    if x > {arg}:\n        {out}.append({arg})\n    else:\n"
            "        {out}.append(x)",
       builtin="list(map(lambda x: min(x, {arg}), {v}))", arg=CAP, keeps_nonempty=True),
    Op("last_digit_each", "maps", ("list[int]",), "same",
       ("replace each number by its last digit, ignoring the sign", "keep only the ones digit of every value",
        "turn each number into the remainder of its absolute value divided by 10"),
       "[abs(x) % 10 for x in {v}]", ("last_digits", "ones"), "digits",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(abs(x) % 10)",
       builtin="list(map(lambda x: abs(x) % 10, {v}))", keeps_nonempty=True),
    Op("sign_each", "maps", ("list[int]",), "same",
       ("replace each number by its sign: 1 if positive, -1 if negative, 0 if zero",
        "turn every value into -1, 0 or 1 according to whether it is negative, zero or positive",
        "map each number to 1, 0 or -1 depending on its sign"),
       "[(x > 0) - (x < 0) for x in {v}]", ("signs",), "signs",
       loop="{out} = []\nfor x in {v}:\n    if x > 0:\n        {out}.append(1)\n    elif x < 0:\n"
            "        {out}.append(-1)\n    else:\n        {out}.append(0)",
       keeps_nonempty=True),
    Op("to_text", "maps", ("list[int]",), "list[str]",
       ("write each number as text", "convert every value to a string", "turn each number into its decimal string"),
       "[str(x) for x in {v}]", ("as_text", "strings", "texts"), "texts",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(str(x))",
       builtin="list(map(str, {v}))", keeps_nonempty=True),
    Op("even_flags", "maps", ("list[int]",), "list[bool]",
       ("replace each number by True if it is even and False if it is odd",
        "make a list of booleans telling for every value whether it is even",
        "mark each number with whether it is divisible by 2"),
       "[x % 2 == 0 for x in {v}]", ("even_flags", "parities"), "flags",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x % 2 == 0)",
       builtin="list(map(lambda x: x % 2 == 0, {v}))", keeps_nonempty=True),
    Op("positive_flags", "maps", ("list[int]",), "list[bool]",
       ("replace each number by True if it is greater than 0 and False otherwise",
        "make a list of booleans telling for every value whether it is positive",
        "mark each number with whether it is above zero"),
       "[x > 0 for x in {v}]", ("positive_flags", "signs_up"), "marks",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(x > 0)",
       builtin="list(map(lambda x: x > 0, {v}))", keeps_nonempty=True),
    Op("truncate_each", "maps", ("list[float]",), "list[int]",
       ("drop the fractional part of each number, truncating toward zero (so -2.7 becomes -2)",
        "convert every value to an integer with int(), which cuts off the digits after the point",
        "turn each number into a whole number by truncating it toward zero"),
       "[int(x) for x in {v}]", ("truncated", "whole"), "whole",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(int(x))",
       builtin="list(map(int, {v}))", keeps_nonempty=True),
    Op("round_each", "maps", ("list[float]",), "list[int]",
       ("round each number to the nearest integer with round(), where a half goes to the even neighbour",
        "replace every value by round() of it, so 2.5 becomes 2 and 3.5 becomes 4",
        "turn each number into the closest whole number, ties going to the even one as round() does"),
       "[round(x) for x in {v}]", ("rounded", "nearest"), "rounded",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(round(x))",
       builtin="list(map(round, {v}))", keeps_nonempty=True),
    Op("flip_flags", "maps", ("list[bool]",), "same",
       ("flip each boolean, so True becomes False and False becomes True",
        "negate every flag with not", "replace each value by its opposite truth value"),
       "[not x for x in {v}]", ("flipped", "inverted"), "inverted",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(not x)",
       builtin="list(map(lambda x: not x, {v}))", keeps_nonempty=True),
)

SLICES = (
    Op("reverse_list", "list_slicing", ("list[int]", "list[str]"), "same",
       ("reverse the order", "put the items in reverse order", "turn the list back to front"),
       "{v}[::-1]", ("reversed_list", "backwards"), "backwards",
       loop="{out} = []\nfor i in range(len({v}) - 1, -1, -1):\n    {out}.append({v}[i])",
       builtin="list(reversed({v}))", keeps_nonempty=True),
    Op("drop_first", "list_slicing", ITEMS, "same",
       ("drop the first item (an empty list stays empty)", "remove the first element and keep the rest",
        "keep everything except the item at the front"),
       "{v}[1:]", ("rest", "tail"), "rest",
       loop="{out} = []\nfor i in range(1, len({v})):\n    {out}.append({v}[i])"),
    Op("drop_last", "list_slicing", ITEMS, "same",
       ("drop the last item (an empty list stays empty)", "remove the final element and keep the rest",
        "keep everything except the item at the end"),
       "{v}[:-1]", ("init", "front", "trimmed"), "front",
       loop="{out} = []\nfor i in range(len({v}) - 1):\n    {out}.append({v}[i])"),
    Op("take_first", "list_slicing", ITEMS, "same",
       ("keep only the first {arg} items (all of them if there are fewer)",
        "take the first {arg} elements, or the whole list if it is shorter",
        "cut the list down to its first {arg} items"),
       "{v}[:{arg}]", ("head", "first"), "head",
       loop="{out} = []\nfor x in {v}:\n    if len({out}) == {arg}:\n        break\n    {out}.append(x)",
       arg=COUNT),
    Op("take_last", "list_slicing", ITEMS, "same",
       ("keep only the last {arg} items (all of them if there are fewer)",
        "take the final {arg} elements in their order, or the whole list if it is shorter",
        "cut the list down to its last {arg} items"),
       "{v}[max(len({v}) - {arg}, 0):]", ("last", "tail_end"), "ending",
       loop="{out} = []\nfor i in range(max(len({v}) - {arg}, 0), len({v})):\n    {out}.append({v}[i])",
       arg=COUNT),
    Op("rotate_left", "list_slicing", ITEMS, "same",
       ("rotate the list left by one, moving the first item to the end",
        "move the front item to the back and shift the others forward",
        "shift every item one place toward the front, the first one going to the end"),
       "{v}[1:] + {v}[:1]", ("rotated", "rotate_left"), "rotated",
       loop="{out} = []\nfor i in range(1, len({v})):\n    {out}.append({v}[i])\nif {v}:\n    {out}.append({v}[0])",
       keeps_nonempty=True),
    Op("rotate_right", "list_slicing", ITEMS, "same",
       ("rotate the list right by one, moving the last item to the front",
        "move the back item to the front and shift the others one place later",
        "shift every item one place toward the end, the last one going to the front"),
       "{v}[-1:] + {v}[:-1]", ("rotated", "rotate_right"), "rotated",
       loop="{out} = []\nif {v}:\n    {out}.append({v}[-1])\nfor i in range(len({v}) - 1):\n"
            "    {out}.append({v}[i])",
       keeps_nonempty=True),
    Op("every_other", "list_slicing", ITEMS, "same",
       ("keep every other item, starting with the first (positions 0, 2, 4, ...)",
        "take the items at even positions, counting from 0",
        "select the first, third, fifth and later items at even positions"),
       "{v}[::2]", ("every_other", "even_positions"), "alternate",
       loop="{out} = []\nfor i in range(0, len({v}), 2):\n    {out}.append({v}[i])",
       builtin="[x for i, x in enumerate({v}) if i % 2 == 0]", keeps_nonempty=True),
    Op("odd_positions", "list_slicing", ITEMS, "same",
       ("keep the items at odd positions, counting from 0 (the second, fourth, ...)",
        "take every other item, starting with the second",
        "select the second, fourth, sixth and later items at odd positions"),
       "{v}[1::2]", ("odd_positions", "alternate"), "alternate",
       loop="{out} = []\nfor i in range(1, len({v}), 2):\n    {out}.append({v}[i])",
       builtin="[x for i, x in enumerate({v}) if i % 2 == 1]"),
)

INSERTION = ("{out} = []\nfor x in {v}:\n    i = len({out})\n    while i > 0 and {out}[i - 1] %s x:\n"
             "        i -= 1\n    {out}.insert(i, x)")

SORTS = (
    Op("sort_ascending", "list_sorting", NUMBERS, "same",
       ("sort the numbers in ascending order", "put the values in order from smallest to largest",
        "arrange the numbers in increasing order"),
       "sorted({v})", ("sorted_list", "ascending"), "ordered",
       loop=INSERTION % ">", keeps_nonempty=True),
    Op("sort_descending", "list_sorting", NUMBERS, "same",
       ("sort the numbers in descending order", "put the values in order from largest to smallest",
        "arrange the numbers in decreasing order"),
       "sorted({v}, reverse=True)", ("descending", "sorted_desc"), "ordered",
       loop=INSERTION % "<", keeps_nonempty=True),
    Op("sort_by_abs", "list_sorting", ("list[int]",), "same",
       ("sort the numbers by their absolute value, smallest first, keeping tied numbers in their original order",
        "order the values by their distance from zero, closest first, leaving equal distances in their original order",
        "arrange the numbers from nearest to zero to farthest, with ties left as they were"),
       "sorted({v}, key=abs)", ("by_size", "by_abs"), "ordered",
       loop="{out} = []\nfor x in {v}:\n    i = len({out})\n    while i > 0 and abs({out}[i - 1]) > abs(x):\n"
            "        i -= 1\n    {out}.insert(i, x)", keeps_nonempty=True),
    Op("sorted_distinct", "list_sorting", ("list[int]",), "same",
       ("list the distinct values in ascending order", "remove duplicates and sort the numbers from smallest up",
        "keep one copy of each value, sorted in increasing order"),
       "sorted(set({v}))", ("distinct_sorted", "unique_sorted"), "uniques",
       loop="{out} = []\nfor x in sorted({v}):\n    if not {out} or {out}[-1] != x:\n        {out}.append(x)",
       keeps_nonempty=True),
    Op("zeros_to_end", "list_sorting", ("list[int]",), "same",
       ("move every zero to the end, keeping the other numbers in their order",
        "push the zeros to the back without changing the order of the rest",
        "put all the non-zero values first, in their original order, followed by the zeros"),
       "[x for x in {v} if x != 0] + [x for x in {v} if x == 0]", ("zeros_last", "compacted"), "compacted",
       loop="{out} = []\nfor x in {v}:\n    if x != 0:\n        {out}.append(x)\nfor x in {v}:\n    if x == 0:\n"
            "        {out}.append(x)",
       builtin="sorted({v}, key=lambda x: x == 0)", keeps_nonempty=True),
    Op("evens_first", "list_sorting", ("list[int]",), "same",
       ("put the even numbers first and the odd numbers after them, each group keeping its original order",
        "move every odd value behind all the even values without reordering within either group",
        "reorder the numbers so the evens come before the odds, keeping the order inside each group"),
       "[x for x in {v} if x % 2 == 0] + [x for x in {v} if x % 2 != 0]", ("evens_first", "by_parity"), "arranged",
       loop="{out} = []\nfor x in {v}:\n    if x % 2 == 0:\n        {out}.append(x)\nfor x in {v}:\n"
            "    if x % 2 != 0:\n        {out}.append(x)",
       builtin="sorted({v}, key=lambda x: x % 2)", keeps_nonempty=True),
    Op("smallest_k", "list_sorting", NUMBERS, "same",
       ("keep the {arg} smallest numbers in ascending order (all of them, sorted, if there are fewer)",
        "sort the values from smallest to largest and take the first {arg} of them",
        "list the lowest {arg} values, smallest first"),
       "sorted({v})[:{arg}]", ("smallest", "lowest_k", "bottom"), "lowest",
       loop=INSERTION % ">" + "\n{out} = {out}[:{arg}]", arg=COUNT),
    Op("largest_k", "list_sorting", NUMBERS, "same",
       ("keep the {arg} largest numbers in descending order (all of them, sorted, if there are fewer)",
        "sort the values from largest to smallest and take the first {arg} of them",
        "list the highest {arg} values, biggest first"),
       "sorted({v}, reverse=True)[:{arg}]", ("largest", "top_k", "highest"), "highest",
       loop=INSERTION % "<" + "\n{out} = {out}[:{arg}]", arg=COUNT),
    Op("median_low", "list_sorting", ("list[int]",), "int",
       ("find the middle value of the sorted numbers, taking the lower of the two middle values when the count is "
        "even",
        "sort the values and pick the one in the middle, or the smaller middle one for an even number of values",
        "compute the low median: the item at position (length - 1) // 2 of the numbers in ascending order"),
       "sorted({v})[(len({v}) - 1) // 2]", ("median", "middle"), "middle",
       loop=INSERTION % ">" + "\n{out} = {out}[(len({out}) - 1) // 2]", nonempty=True),
)

REDUCTIONS = (
    Op("sum_all", "list_reductions", ("list[int]",), "int",
       ("add them all up", "compute the sum of the numbers", "find the total of the values"),
       "sum({v})", ("sum_of", "total"), "total",
       loop="{out} = 0\nfor x in {v}:\n    {out} += x"),
    Op("max_value", "list_reductions", ("list[int]",), "int",
       ("find the largest number", "take the maximum value", "pick the biggest number"),
       "max({v})", ("max_of", "largest", "biggest"), "largest",
       loop="{out} = {v}[0]\nfor x in {v}:\n    if x > {out}:\n        {out} = x", nonempty=True),
    Op("min_value", "list_reductions", ("list[int]",), "int",
       ("find the smallest number", "take the minimum value", "pick the lowest number"),
       "min({v})", ("min_of", "smallest", "lowest"), "smallest",
       loop="{out} = {v}[0]\nfor x in {v}:\n    if x < {out}:\n        {out} = x", nonempty=True),
    Op("value_range", "list_reductions", ("list[int]",), "int",
       ("find the difference between the largest and the smallest number",
        "compute the range of the values: the maximum minus the minimum",
        "measure how far apart the biggest and the smallest numbers are"),
       "max({v}) - min({v})", ("value_range", "spread"), "spread",
       loop="best = {v}[0]\n{out} = {v}[0]\nfor x in {v}:\n    if x > best:\n        best = x\n    if x < {out}:\n"
            "        {out} = x\n{out} = best - {out}", nonempty=True),
    Op("sum_squares", "list_reductions", ("list[int]",), "int",
       ("add up the squares of the numbers", "compute the sum of every value squared",
        "square each number and total the results (0 for no numbers)"),
       "sum(x * x for x in {v})", ("sum_squares", "square_sum"), "square_sum",
       loop="{out} = 0\nfor x in {v}:\n    {out} += x * x",
       builtin="sum(map(lambda x: x * x, {v}))"),
    Op("sum_abs", "list_reductions", ("list[int]",), "int",
       ("add up the absolute values of the numbers", "compute the total distance of the values from zero",
        "sum the numbers with their signs dropped (0 for no numbers)"),
       "sum(abs(x) for x in {v})", ("abs_sum", "magnitude"), "magnitude",
       loop="{out} = 0\nfor x in {v}:\n    {out} += abs(x)",
       builtin="sum(map(abs, {v}))"),
    Op("count_distinct", "list_reductions", ("list[int]",), "int",
       ("count how many different values there are", "find the number of distinct items",
        "count the values, counting each repeated value only once"),
       "len(set({v}))", ("distinct_count", "variety"), "variety",
       loop="seen = []\nfor x in {v}:\n    if x not in seen:\n        seen.append(x)\n{out} = len(seen)",
       builtin="len(dict.fromkeys({v}))"),
    Op("second_largest", "list_reductions", ("list[int]",), "int",
       ("find the second largest distinct value (the largest itself if all the values are equal)",
        "take the biggest value that is smaller than the maximum, or the maximum if no value is smaller",
        "find the runner-up among the distinct numbers, falling back to the largest when every number is the "
        "same"),
       "sorted(set({v}))[-2] if len(set({v})) > 1 else max({v})", ("second_largest", "runner_up"), "runner_up",
       loop="best = {v}[0]\nfor x in {v}:\n    if x > best:\n        best = x\n{out} = best\nfor x in {v}:\n"
            "    if x < best and ({out} == best or x > {out}):\n        {out} = x",
       builtin="max((x for x in {v} if x < max({v})), default=max({v}))", nonempty=True),
    Op("farthest_from_zero", "list_reductions", ("list[int]",), "int",
       ("find the number with the largest absolute value (the first one if several tie)",
        "pick the value farthest from zero, keeping the earliest on a tie",
        "find the number whose distance from zero is greatest, the first such number if there are several"),
       "max({v}, key=abs)", ("farthest", "extreme"), "extreme",
       loop="{out} = {v}[0]\nfor x in {v}:\n    if abs(x) > abs({out}):\n        {out} = x", nonempty=True),
    Op("closest_to_zero", "list_reductions", ("list[int]",), "int",
       ("find the number with the smallest absolute value (the first one if several tie)",
        "pick the value closest to zero, keeping the earliest on a tie",
        "find the number nearest to zero, the first such number if there are several"),
       "min({v}, key=abs)", ("closest", "nearest_zero"), "nearest",
       loop="{out} = {v}[0]\nfor x in {v}:\n    if abs(x) < abs({out}):\n        {out} = x", nonempty=True),
    Op("index_of_max", "list_reductions", NUMBERS, "int",
       ("find the position of the largest number (the first position if it appears more than once)",
        "give the index of the maximum value, counting from 0; on a tie the earliest index",
        "locate the biggest number and return its first index"),
       "{v}.index(max({v}))", ("argmax", "peak_index"), "peak",
       loop="{out} = 0\nfor i in range(len({v})):\n    if {v}[i] > {v}[{out}]:\n        {out} = i",
       builtin="max(range(len({v})), key=lambda i: {v}[i])", nonempty=True),
    Op("mean_value", "list_reductions", NUMBERS, "float",
       ("compute the mean of the numbers, rounded to 2 decimals", "find the average value, rounded to 2 decimal places",
        "divide the total by the number of values and round the result to 2 decimals"),
       "round(sum({v}) / len({v}), 2)", ("mean", "average"), "mean",
       loop="{out} = 0\nfor x in {v}:\n    {out} += x\n{out} = round({out} / len({v}), 2)", nonempty=True),
)

COUNTERS = (
    Op("count_items", "list_counters", ("list[int]", "list[str]", "list[float]", "list[bool]"), "int",
       ("count the items", "find how many elements there are", "compute the length of the list"),
       "len({v})", ("length", "size", "count"), "size",
       loop="{out} = 0\nfor x in {v}:\n    {out} += 1"),
    Op("count_even", "list_counters", ("list[int]",), "int",
       ("count how many numbers are even", "find the number of even values", "count the values divisible by 2"),
       "sum(1 for x in {v} if x % 2 == 0)", ("even_count", "count_even"), "even_count",
       loop="{out} = 0\nfor x in {v}:\n    if x % 2 == 0:\n        {out} += 1",
       builtin="len(list(filter(lambda x: x % 2 == 0, {v})))"),
    Op("count_negative", "list_counters", NUMBERS, "int",
       ("count how many numbers are negative", "find the number of values below zero",
        "count the values that are less than 0"),
       "sum(1 for x in {v} if x < 0)", ("negative_count", "count_negative"), "negative_count",
       loop="{out} = 0\nfor x in {v}:\n    if x < 0:\n        {out} += 1",
       builtin="len(list(filter(lambda x: x < 0, {v})))"),
    Op("count_equal", "list_counters", ("list[int]",), "int",
       ("count how many times {arg} occurs", "find the number of items equal to {arg}",
        "count the occurrences of {arg} (0 if it never occurs)"),
       "sum(1 for x in {v} if x == {arg})", ("occurrences", "count_of"), "occurrences",
       loop="{out} = 0\nfor x in {v}:\n    if x == {arg}:\n        {out} += 1",
       builtin="{v}.count({arg})", arg=TARGET),
    Op("count_greater", "list_counters", ("list[int]",), "int",
       ("count how many numbers are greater than {arg}", "find the number of values above {arg}",
        "count the values that exceed {arg}"),
       "sum(1 for x in {v} if x > {arg})", ("above_count", "count_above"), "above_count",
       loop="{out} = 0\nfor x in {v}:\n    if x > {arg}:\n        {out} += 1",
       builtin="len(list(filter(lambda x: x > {arg}, {v})))", arg=THRESHOLD),
    Op("count_true", "list_counters", ("list[bool]",), "int",
       ("count how many values are True", "find the number of True flags", "count the items that are True"),
       "sum(1 for x in {v} if x)", ("true_count", "yes_count"), "true_count",
       loop="{out} = 0\nfor x in {v}:\n    if x:\n        {out} += 1",
       builtin="{v}.count(True)"),
    Op("running_sums", "list_counters", ("list[int]",), "same",
       ("replace each number by the sum of itself and all the numbers before it",
        "compute the running totals, one per item", "list the cumulative sums of the values from the first on"),
       "[sum({v}[:i + 1]) for i in range(len({v}))]", ("running_sums", "cumulative"), "running",
       loop="{out} = []\nvalue = 0\nfor x in {v}:\n    value += x\n    {out}.append(value)", keeps_nonempty=True),
    Op("running_max", "list_counters", NUMBERS, "same",
       ("replace each number by the largest value seen so far, up to and including it",
        "compute the running maximum, one per item", "list, for every position, the maximum of the values up to it"),
       "[max({v}[:i + 1]) for i in range(len({v}))]", ("running_max", "record_highs"), "highs",
       loop="{out} = []\nfor i in range(len({v})):\n    if i == 0 or {v}[i] > best:\n        best = {v}[i]\n"
            "    {out}.append(best)", keeps_nonempty=True),
    Op("running_min", "list_counters", NUMBERS, "same",
       ("replace each number by the smallest value seen so far, up to and including it",
        "compute the running minimum, one per item", "list, for every position, the minimum of the values up to it"),
       "[min({v}[:i + 1]) for i in range(len({v}))]", ("running_min", "record_lows"), "lows",
       loop="{out} = []\nfor i in range(len({v})):\n    if i == 0 or {v}[i] < best:\n        best = {v}[i]\n"
            "    {out}.append(best)", keeps_nonempty=True),
)

SEARCHES = (
    Op("index_above", "list_searching", ("list[int]",), "int",
       ("find the index of the first number greater than {arg}, or -1 if there is none",
        "give the position of the earliest value above {arg}, counting from 0, or -1 when no value is above it",
        "locate the first number that exceeds {arg} and return its index (-1 if none does)"),
       "next((i for i, x in enumerate({v}) if x > {arg}), -1)", ("first_above", "index_above"), "position",
       loop="{out} = -1\nfor i in range(len({v})):\n    if {v}[i] > {arg}:\n        {out} = i\n        break",
       arg=THRESHOLD),
    Op("index_of", "list_searching", ("list[int]",), "int",
       ("give the position where {arg} first appears, or -1 if it does not occur",
        "give the position of {arg}, counting from 0, or -1 when it is missing",
        "locate {arg} and return its first index (-1 if it is not there)"),
       "{v}.index({arg}) if {arg} in {v} else -1", ("index_of", "position"), "position",
       loop="{out} = -1\nfor i in range(len({v})):\n    if {v}[i] == {arg}:\n        {out} = i\n        break",
       builtin="next((i for i, x in enumerate({v}) if x == {arg}), -1)", arg=TARGET),
    Op("last_index_of", "list_searching", ("list[int]",), "int",
       ("give the position where {arg} appears for the last time, or -1 if it does not occur",
        "give the highest position at which {arg} appears, or -1 when it is missing",
        "locate the final {arg} and return its index (-1 if there is none)"),
       "len({v}) - 1 - {v}[::-1].index({arg}) if {arg} in {v} else -1", ("last_index", "last_position"), "position",
       loop="{out} = -1\nfor i in range(len({v})):\n    if {v}[i] == {arg}:\n        {out} = i",
       builtin="max((i for i, x in enumerate({v}) if x == {arg}), default=-1)", arg=TARGET),
    Op("contains", "list_searching", ("list[int]",), "bool",
       ("check whether {arg} is one of the numbers", "tell whether {arg} occurs anywhere in the list",
        "decide whether any item equals {arg}"),
       "{arg} in {v}", ("contains", "has"), "found",
       loop="{out} = False\nfor x in {v}:\n    if x == {arg}:\n        {out} = True\n        break",
       builtin="any(x == {arg} for x in {v})", arg=TARGET),
    Op("first_negative", "list_searching", ("list[int]",), "opt_int",
       ("find the first negative number, or None if there is none",
        "give the earliest value below zero, or None when every value is zero or more",
        "return the first number less than 0 (None if no number is negative)"),
       "next((x for x in {v} if x < 0), None)", ("first_negative",), "first_neg",
       loop="{out} = None\nfor x in {v}:\n    if x < 0:\n        {out} = x\n        break"),
    Op("first_above", "list_searching", ("list[int]",), "opt_int",
       ("find the first number greater than {arg}, or None if there is none",
        "give the earliest value above {arg}, or None when no value is above it",
        "return the first number that exceeds {arg} (None if none does)"),
       "next((x for x in {v} if x > {arg}), None)", ("first_above", "first_over"), "first_big",
       loop="{out} = None\nfor x in {v}:\n    if x > {arg}:\n        {out} = x\n        break", arg=THRESHOLD),
    Op("first_even", "list_searching", ("list[int]",), "opt_int",
       ("find the first even number, or None if there is none",
        "give the earliest value divisible by 2, or None when every value is odd",
        "return the first even number in the list (None if all are odd or the list is empty)"),
       "next((x for x in {v} if x % 2 == 0), None)", ("first_even",), "first_even",
       loop="{out} = None\nfor x in {v}:\n    if x % 2 == 0:\n        {out} = x\n        break"),
)

CHECKS = (
    Op("all_positive", "list_checks", NUMBERS, "bool",
       ("check whether every number is positive (True for an empty list)",
        "tell whether all the values are greater than 0, which is True when there are none",
        "decide whether no value is zero or negative"),
       "all(x > 0 for x in {v})", ("all_positive",), "ok",
       loop="{out} = True\nfor x in {v}:\n    if x <= 0:\n        {out} = False\n        break"),
    Op("any_negative", "list_checks", NUMBERS, "bool",
       ("check whether any number is negative (False for an empty list)",
        "tell whether at least one value is below 0", "decide whether some number is less than zero"),
       "any(x < 0 for x in {v})", ("any_negative", "has_negative"), "has_negative",
       loop="{out} = False\nfor x in {v}:\n    if x < 0:\n        {out} = True\n        break"),
    Op("is_sorted", "list_checks", NUMBERS, "bool",
       ("check whether the numbers are in ascending order, each no larger than the next (True for an empty list)",
        "tell whether the values never decrease from left to right",
        "decide whether the list is already sorted from smallest to largest, equal neighbours allowed"),
       "all(x <= y for x, y in zip({v}, {v}[1:]))", ("is_sorted", "in_order"), "in_order",
       loop="{out} = True\nfor i in range(len({v}) - 1):\n    if {v}[i] > {v}[i + 1]:\n        {out} = False\n"
            "        break",
       builtin="{v} == sorted({v})"),
    Op("strictly_increasing", "list_checks", ("list[int]",), "bool",
       ("check whether each number is strictly larger than the one before it (True for fewer than two numbers)",
        "tell whether the values only go up, with no two neighbours equal",
        "decide whether the list is strictly increasing"),
       "all(x < y for x, y in zip({v}, {v}[1:]))", ("increasing", "strictly_increasing"), "rising",
       loop="{out} = True\nfor i in range(len({v}) - 1):\n    if {v}[i] >= {v}[i + 1]:\n        {out} = False\n"
            "        break",
       builtin="{v} == sorted(set({v}))"),
    Op("has_duplicates", "list_checks", ("list[int]",), "bool",
       ("check whether any value appears more than once", "tell whether the list contains a repeated item",
        "decide whether some item occurs at least twice"),
       "len(set({v})) != len({v})", ("has_duplicates", "repeats"), "repeated",
       loop="{out} = False\nseen = []\nfor x in {v}:\n    if x in seen:\n        {out} = True\n        break\n"
            "    seen.append(x)",
       builtin="any({v}.count(x) > 1 for x in {v})"),
    Op("is_palindrome_list", "list_checks", ITEMS, "bool",
       ("check whether the list reads the same forwards and backwards (True for an empty list)",
        "tell whether the items are a palindrome, the first matching the last and so on inwards",
        "decide whether reversing the list would leave it unchanged"),
       "{v} == {v}[::-1]", ("palindrome", "symmetric"), "symmetric",
       loop="{out} = True\nfor i in range(len({v}) // 2):\n    if {v}[i] != {v}[len({v}) - 1 - i]:\n"
            "        {out} = False\n        break",
       builtin="{v} == list(reversed({v}))"),
    Op("all_true", "list_checks", ("list[bool]",), "bool",
       ("check whether every flag is True (True for an empty list)", "tell whether no value is False",
        "decide whether all the booleans are True"),
       "all({v})", ("all_true", "all_set"), "all_set",
       loop="{out} = True\nfor x in {v}:\n    if not x:\n        {out} = False\n        break",
       builtin="False not in {v}"),
    Op("any_true", "list_checks", ("list[bool]",), "bool",
       ("check whether at least one flag is True (False for an empty list)", "tell whether some value is True",
        "decide whether any of the booleans is True"),
       "any({v})", ("any_true", "any_set"), "any_set",
       loop="{out} = False\nfor x in {v}:\n    if x:\n        {out} = True\n        break",
       builtin="True in {v}"),
)

NEIGHBOURS = (
    Op("differences", "list_neighbours", ("list[int]",), "same",
       ("list the differences between neighbours, each later number minus the one before it (one item fewer)",
        "compute how much each value changes from the previous one, giving an empty list for fewer than two",
        "replace every pair of neighbours by the second minus the first"),
       "[y - x for x, y in zip({v}, {v}[1:])]", ("differences", "steps", "deltas"), "deltas",
       loop="{out} = []\nfor i in range(len({v}) - 1):\n    {out}.append({v}[i + 1] - {v}[i])",
       builtin="list(map(lambda x, y: y - x, {v}, {v}[1:]))"),
    Op("neighbour_sums", "list_neighbours", ("list[int]",), "same",
       ("add each number to the one after it, giving one sum per pair of neighbours",
        "list the sums of neighbouring values (an empty list for fewer than two)",
        "replace every pair of neighbours by their sum"),
       "[x + y for x, y in zip({v}, {v}[1:])]", ("pair_sums", "neighbour_sums"), "pair_sums",
       loop="{out} = []\nfor i in range(len({v}) - 1):\n    {out}.append({v}[i] + {v}[i + 1])",
       builtin="list(map(lambda x, y: x + y, {v}, {v}[1:]))"),
    Op("count_rises", "list_neighbours", ("list[int]",), "int",
       ("count how many numbers are larger than the one just before them",
        "find how many times the values go up from one item to the next",
        "count the neighbouring pairs where the second value is greater than the first"),
       "sum(1 for x, y in zip({v}, {v}[1:]) if y > x)", ("rises", "ups"), "rises",
       loop="{out} = 0\nfor i in range(len({v}) - 1):\n    if {v}[i + 1] > {v}[i]:\n        {out} += 1",
       builtin="len(list(filter(lambda pair: pair[1] > pair[0], zip({v}, {v}[1:]))))"),
    Op("largest_jump", "list_neighbours", ("list[int]",), "int",
       ("find the largest absolute difference between two neighbours (0 for fewer than two numbers)",
        "measure the biggest step between consecutive values, ignoring its direction, or 0 if there is no step",
        "compute the greatest distance between a number and the next one, 0 when there are no neighbours"),
       "max((abs(y - x) for x, y in zip({v}, {v}[1:])), default=0)", ("largest_jump", "max_step"), "jump",
       loop="{out} = 0\nfor i in range(len({v}) - 1):\n    if abs({v}[i + 1] - {v}[i]) > {out}:\n"
            "        {out} = abs({v}[i + 1] - {v}[i])"),
    Op("equal_neighbours", "list_neighbours", ("list[int]",), "bool",
       ("check whether two equal items stand next to each other",
        "tell whether some item is the same as the one right after it",
        "decide whether the list has a pair of equal neighbours"),
       "any(x == y for x, y in zip({v}, {v}[1:]))", ("has_run", "equal_neighbours"), "doubled_up",
       loop="{out} = False\nfor i in range(len({v}) - 1):\n    if {v}[i] == {v}[i + 1]:\n        {out} = True\n"
            "        break"),
)

PAIRS = "for i in range(len({v})):\n    for j in range(i + 1, len({v})):\n"

NESTED = (
    Op("count_pairs_sum", "list_pairs", ("list[int]",), "int",
       ("count the pairs of different positions whose numbers add up to {arg}, each pair once",
        "find how many pairs of items, at two different positions and unordered, sum to {arg}",
        "count every pair i < j of positions whose values total {arg}"),
       "sum(1 for i in range(len({v})) for j in range(i + 1, len({v})) if {v}[i] + {v}[j] == {arg})",
       ("pairs_summing", "pair_count"), "pair_count",
       loop="{out} = 0\n" + PAIRS + "        if {v}[i] + {v}[j] == {arg}:\n            {out} += 1",
       arg=SUM_TARGET),
    Op("has_pair_sum", "list_pairs", ("list[int]",), "bool",
       ("check whether two numbers at different positions add up to {arg}",
        "tell whether some pair of items, not the same item twice, sums to {arg}",
        "decide whether any two distinct positions hold values totalling {arg}"),
       "any({v}[i] + {v}[j] == {arg} for i in range(len({v})) for j in range(i + 1, len({v})))",
       ("has_pair", "two_sum"), "has_pair",
       loop="{out} = False\n" + PAIRS + "        if {v}[i] + {v}[j] == {arg}:\n            {out} = True",
       arg=SUM_TARGET),
    Op("count_inversions", "list_pairs", ("list[int]",), "int",
       ("count the pairs of positions where a larger number comes before a smaller one",
        "find how many pairs i < j have the earlier value greater than the later one",
        "count the out-of-order pairs, where a number is bigger than some number after it"),
       "sum(1 for i in range(len({v})) for j in range(i + 1, len({v})) if {v}[i] > {v}[j])",
       ("inversions", "disorder"), "inversions",
       loop="{out} = 0\n" + PAIRS + "        if {v}[i] > {v}[j]:\n            {out} += 1"),
    Op("count_equal_pairs", "list_pairs", ("list[int]",), "int",
       ("count the pairs of different positions that hold equal items",
        "find how many pairs i < j have the same value at both positions",
        "count every unordered pair of equal items, at two different positions"),
       "sum(1 for i in range(len({v})) for j in range(i + 1, len({v})) if {v}[i] == {v}[j])",
       ("equal_pairs", "matching_pairs"), "matches",
       loop="{out} = 0\n" + PAIRS + "        if {v}[i] == {v}[j]:\n            {out} += 1"),
    Op("smaller_counts", "list_pairs", ("list[int]",), "same",
       ("replace each number by how many numbers in the list are smaller than it",
        "for every value, count the values in the whole list that are less than it",
        "replace each item by the number of items in the list that are smaller than it"),
       "[sum(1 for y in {v} if y < x) for x in {v}]", ("ranks", "smaller_counts"), "ranks",
       loop="{out} = []\nfor x in {v}:\n    {out}.append(0)\n    for y in {v}:\n        if y < x:\n"
            "            {out}[-1] += 1",
       builtin="[len(list(filter(lambda y: y < x, {v}))) for x in {v}]", keeps_nonempty=True),
)

OPS = FILTERS + MAPS + SLICES + SORTS + REDUCTIONS + COUNTERS + SEARCHES + CHECKS + NEIGHBOURS + NESTED
