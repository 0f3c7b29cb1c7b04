"""Operations on numbers: arithmetic, powers and roots, integer division, signs, comparisons, digits,
divisors and primes, gcd and lcm, loop accumulators, binary, factorial and Fibonacci, conversions,
rounding, booleans and number formatting.

The integer domains say what a value may be, so chains stay meaningful and small: "nat" (>= 0) feeds
the digit operations, "pos" (>= 1) the divisor and prime ones, and "small" (0..10) the factorial,
the powers and the triangular numbers, whose results grow fast.
"""

from __future__ import annotations

from dataclasses import replace

from textbooks.synth.curriculum.concepts import Arg, Family, Mistake, Op

DIVISOR = Arg("pos", ("divisor", "modulus", "d", "base_d"))
PARTS = Arg("pos", ("parts", "divisor", "denominator", "shares"))
OFFSET = Arg("int", ("offset", "delta", "shift", "increment", "bonus"))
FACTOR = Arg("int", ("factor", "multiplier", "scale", "coefficient"))
EXPONENT = Arg("small", ("exponent", "power_n", "degree", "exp_n"))
UPPER = Arg("pos", ("limit", "upper", "cap", "high", "top"))
FLOOR = Arg("int", ("floor_value", "minimum", "lowest", "baseline"))
TARGET = Arg("int", ("target", "reference", "origin", "center"))
OTHER = Arg("pos", ("other_n", "second", "partner", "other_num"))
COUNT = Arg("small", ("count", "how_many", "times_n", "length_n"))
WIDTH = Arg("small", ("width", "pad_to", "min_width", "digits_n"))
PERCENT = Arg("pos", ("percent", "pct", "rate_pct", "share_pct"))
FLAG = Arg("bool", ("other_flag", "second_flag", "also", "extra_flag"))

FAMILIES = (
    Family("arithmetic", "python / numbers and arithmetic / arithmetic operators", "Doing arithmetic with integers",
           ("Python's arithmetic operators work on integers the way they do on paper: `+` adds, `-` subtracts and "
            "`*` multiplies. The result of adding or multiplying two integers is again an integer, and Python "
            "integers never overflow, so `10 ** 30 + 1` is computed exactly.",
            "A function that changes a number usually fits in one line: `return n * 2` doubles it and "
            "`return n + offset` shifts it. Writing the operation on the parameter, instead of on a fixed value, "
            "makes the same function work for every number a caller passes in.",
            "When an expression mixes operators, Python follows the usual precedence: `*` and `/` are done before "
            "`+` and `-`. Parentheses change that order and also make the intent clear to a reader, as in "
            "`(a + b) * 2`."),
           (Mistake(wrong="low = 4\nhigh = 10\nmiddle = low + high / 2\nprint(middle)",
                    why="Division binds tighter than addition, so the line computes `low + (high / 2)`, which is 9.0, "
                        "not the middle of 4 and 10.",
                    fixed="low = 4\nhigh = 10\nmiddle = (low + high) / 2\nprint(middle)"),)),
    Family("powers", "python / numbers and arithmetic / exponents and powers", "Powers and square roots",
           ("The operator `**` raises a number to a power: `3 ** 2` is 9 and `2 ** 10` is 1024. The built-in "
            "`pow(base, exponent)` does the same. Any number to the power 0 is 1, and Python even defines "
            "`0 ** 0` as 1.",
            "A power with a whole exponent is repeated multiplication, so a loop can compute it: start from 1 and "
            "multiply by the base once per unit of the exponent. A fractional exponent gives a root: `n ** 0.5` "
            "is the square root of `n`, as a float.",
            "To test whether a number is a perfect square, take the whole part of its square root with "
            "`int(n ** 0.5)` and square it again: you get `n` back only when `n` is a perfect square. Negative "
            "numbers are never perfect squares, so check them first."),
           (Mistake(wrong="side = 3\narea = side ^ 2\nprint(area)",
                    why="In Python `^` is not a power: it is bitwise exclusive or, and `3 ^ 2` is 1. Powers are "
                        "written with `**`.",
                    fixed="side = 3\narea = side ** 2\nprint(area)"),)),
    Family("division", "python / numbers and arithmetic / integer division and remainder",
           "Integer division and remainder",
           ("Python has two division operators. `/` always gives a float (`7 / 2` is 3.5), while `//` gives the "
            "whole number of times the divisor fits (`7 // 2` is 3). The remainder that is left over comes from "
            "`%`: `7 % 2` is 1.",
            "The remainder answers many everyday questions. A number is even when `n % 2 == 0`, it is divisible "
            "by `d` when `n % d == 0`, and its last decimal digit is `n % 10`. Dividing by 10 with `//` removes "
            "that last digit.",
            "With a positive divisor, Python's `//` always rounds down, toward minus infinity, and `%` always "
            "gives a result between 0 and the divisor minus 1. So `-7 // 2` is -4 and `-7 % 2` is 1; the two "
            "always fit together as `(n // d) * d + n % d == n`."),
           (Mistake(wrong="minutes = 135\nhours = minutes / 60\nprint(hours, \"hours and\", minutes % 60, \"minutes\")",
                    why="`/` is true division and gives 2.25, a fraction of an hour. To count whole hours, divide "
                        "with `//`, which drops the part that `%` reports as leftover minutes.",
                    fixed="minutes = 135\nhours = minutes // 60\n"
                          "print(hours, \"hours and\", minutes % 60, \"minutes\")"),)),
    Family("collatz", "algorithms / number algorithms / collatz sequences", "The Collatz rule",
           ("The Collatz rule turns a positive whole number into the next one: if the number is even, halve it; if "
            "it is odd, multiply it by 3 and add 1. Starting from 6 gives 6, 3, 10, 5, 16, 8, 4, 2, 1. Nobody has "
            "proved that every start reaches 1, but every number anyone has tried does.",
            "One step of the Collatz rule is a single `if`: test evenness with `n % 2 == 0`, then use `n // 2` "
            "(integer division keeps the result an int) or `3 * n + 1`. Repeating that step in a `while n != 1` "
            "loop and counting the rounds gives the length of the sequence."),
           (Mistake(wrong="n = 6\nif n % 2 == 0:\n    n = n / 2\nelse:\n    n = 3 * n + 1\nprint(n)",
                    why="Halving with `/` produces a float, so the sequence continues as 3.0, 10.0, ... and the "
                        "numbers are no longer integers. Use `//` for the even case.",
                    fixed="n = 6\nif n % 2 == 0:\n    n = n // 2\nelse:\n    n = 3 * n + 1\nprint(n)"),)),
    Family("signs", "python / numbers and arithmetic / absolute values and signs", "Absolute values and signs",
           ("The absolute value of a number is its size without its sign: `abs(-7)` and `abs(7)` are both 7. It "
            "is the right tool for distances, because how far apart two numbers are is `abs(a - b)` whichever of "
            "them is larger.",
            "The sign of a number says which side of zero it is on, often written as -1, 0 or 1. An `if`/`elif`/"
            "`else` chain with the tests `n > 0` and `n < 0` computes it, and zero falls through to the last "
            "branch."),
           (Mistake(wrong="for x in [-5, 5]:\n    print(-x)",
                    why="Putting a minus in front flips the sign of every number, so a positive input becomes "
                        "negative. The absolute value only changes negative numbers; that is what `abs` does.",
                    fixed="for x in [-5, 5]:\n    print(abs(x))"),)),
    Family("comparisons", "python / conditionals / if else and elif chains", "Deciding with comparisons",
           ("An `if` statement runs its block only when its condition is true; `elif` adds another test that is "
            "tried only when the ones above it failed, and `else` catches everything left. Exactly one branch of "
            "such a chain runs, the first whose test passes.",
            "Comparisons like `n < 0` or `n > limit` are expressions that give `True` or `False`, so they can be "
            "returned directly or combined. Python also allows chained comparisons: `0 <= n <= limit` means "
            "`0 <= n and n <= limit`.",
            "Clamping keeps a value inside a range: anything below the low end becomes the low end and anything "
            "above the high end becomes the high end. It can be written as an `if`/`elif`/`else` chain or with "
            "the built-ins, `min(max(n, low), high)`."),
           (Mistake(wrong="score = 95\nif score >= 50:\n    print(\"pass\")\nelif score >= 90:\n"
                          "    print(\"excellent\")",
                    why="The branches are tried from the top and only the first true one runs. Every score of 90 "
                        "or more is also at least 50, so the `excellent` branch can never be reached; put the "
                        "stricter test first.",
                    fixed="score = 95\nif score >= 90:\n    print(\"excellent\")\nelif score >= 50:\n"
                          "    print(\"pass\")"),)),
    Family("digits", "algorithms / number algorithms / sum of digits", "Working with the digits of a number",
           ("There are two ways to reach the digits of a non-negative integer. Arithmetic: `n % 10` is the last "
            "digit and `n // 10` removes it, so a `while n > 0` loop visits the digits from right to left. Text: "
            "`str(n)` spells the number out, and `int(ch)` turns each character back into a digit.",
            "The string route is short and reads left to right: `sum(int(ch) for ch in str(n))` adds the digits "
            "and `len(str(n))` counts them. The arithmetic route needs no conversion and is the one to know "
            "when digits must be counted in another base.",
            "Watch the number 0: it has one digit, but a `while n > 0` loop never runs for it. Loops that must "
            "handle 0 either treat it as a special case or walk over `str(n)`, which is `\"0\"`."),
           (Mistake(wrong="n = 472\ntry:\n    print(sum(str(n)))\nexcept TypeError as error:\n"
                          "    print(\"TypeError:\", error)",
                    why="`str(n)` is text, and `sum` cannot add characters: each digit has to be turned back into "
                        "an integer with `int` first.",
                    fixed="n = 472\nprint(sum(int(ch) for ch in str(n)))"),)),
    Family("primes", "algorithms / number algorithms / checking whether a number is prime",
           "Testing for prime numbers",
           ("A prime is a whole number greater than 1 whose only divisors are 1 and itself: 2, 3, 5, 7, 11, ... "
            "To test `n`, try dividing it by every candidate from 2 upward; one exact division (`n % i == 0`) "
            "proves it is not prime.",
            "When testing `n`, candidate divisors only need to go up to its square root: if `n = a * b`, one of "
            "`a` and `b` is at most the square root. So a loop `while i * i <= n` is enough, and it is much "
            "faster for big numbers than trying everything below `n`.",
            "The numbers 0 and 1 are not prime, and a loop over divisors never runs for them, so the test must "
            "rule them out explicitly, for example by starting from `n > 1`."),
           (Mistake(wrong="n = 1\nis_prime = all(n % i != 0 for i in range(2, n))\nprint(is_prime)",
                    why="For 1 the range is empty, and `all` of nothing is `True`, so 1 is wrongly called prime. "
                        "Require `n > 1` as well.",
                    fixed="n = 1\nis_prime = n > 1 and all(n % i != 0 for i in range(2, n))\nprint(is_prime)"),)),
    Family("divisors", "algorithms / number algorithms / perfect numbers", "Divisors of a number",
           ("A divisor of `n` is a whole number that divides it with no remainder: the divisors of 12 are 1, 2, 3, "
            "4, 6 and 12. The straightforward way to find them tests every `i` from 1 to `n` with `n % i == 0`.",
            "The proper divisors of a number are its divisors other than itself. A perfect number equals the sum "
            "of its proper divisors: 6 = 1 + 2 + 3 and 28 = 1 + 2 + 4 + 7 + 14. Counting and adding divisors "
            "are both accumulator loops over the same test."),
           (Mistake(wrong="n = 12\nprint([i for i in range(1, n) if n % i == 0])",
                    why="`range(1, n)` stops before `n`, so the number itself is missing from its divisors. The "
                        "end of a range is excluded; use `range(1, n + 1)`.",
                    fixed="n = 12\nprint([i for i in range(1, n + 1) if n % i == 0])"),)),
    Family("gcd", "algorithms / number algorithms / greatest common divisor", "Greatest common divisor and least "
           "common multiple",
           ("The greatest common divisor of two numbers is the largest whole number that divides both; for 12 "
            "and 18 it is 6. Euclid's algorithm finds it quickly: replace the pair `(a, b)` by `(b, a % b)` until "
            "`b` is 0, and `a` is the answer.",
            "The least common multiple of two positive numbers is the smallest number both divide; for 4 and 6 it "
            "is 12. One way is to walk through the multiples of one number until the other divides it; another "
            "is the formula `a * b // gcd(a, b)`."),
           (Mistake(wrong="a, b = 48, 18\nwhile b != 0:\n    a = b\n    b = a % b\nprint(a)",
                    why="The second line already sees the new `a`, so `b` becomes `18 % 18` and the loop stops too "
                        "early. Both names must be updated at once with a tuple assignment.",
                    fixed="a, b = 48, 18\nwhile b != 0:\n    a, b = b, a % b\nprint(a)"),)),
    Family("accumulators", "python / loops / loop counters and accumulators", "Accumulating over a range",
           ("An accumulator is a variable that a loop keeps updating: it starts at a neutral value (0 for a sum, "
            "an empty list for a collection) before the loop, and every round adds to it. After the loop it "
            "holds the answer.",
            "`range(1, n + 1)` yields 1, 2, ..., n, so `for i in range(1, n + 1): total += i` adds the whole "
            "numbers up to `n`. The built-in `sum` does the same in one call, and for this sum there is even "
            "Gauss's formula `n * (n + 1) // 2`.",
            "An accumulator can also collect values: appending the running total after every step builds the "
            "triangular numbers 1, 3, 6, 10, ..., and appending `n * i` builds a times table."),
           (Mistake(wrong="for i in range(1, 6):\n    total = 0\n    total += i\nprint(total)",
                    why="The accumulator is reset to 0 inside the loop, so each round throws away what came "
                        "before and only the last number survives. Start it once, before the loop.",
                    fixed="total = 0\nfor i in range(1, 6):\n    total += i\nprint(total)"),)),
    Family("binary", "mathematics for programmers / number systems / binary numbers", "Numbers in binary",
           ("Binary writes numbers with the two digits 0 and 1, each place worth twice the one to its right: "
            "`1011` is 8 + 2 + 1 = 11. The remainders of repeated division by 2 are the binary digits, from the "
            "last to the first.",
            "Python's `bin(11)` gives the string `'0b1011'`; the `0b` prefix marks it as binary, so `bin(n)[2:]` "
            "keeps only the digits. `format(n, \"b\")` gives the digits without the prefix directly.",
            "A power of two has exactly one 1 in binary (`1`, `10`, `100`, ...), so counting the ones with "
            "`bin(n).count(\"1\")` recognises it. Another way is to keep halving while the number is even and "
            "see whether 1 is what remains."),
           (Mistake(wrong="n = 5\nprint(\"binary digits:\", len(bin(n)))",
                    why="`bin` puts the two characters `0b` in front of the digits, and `len` counts them too. "
                        "Slice them off before counting.",
                    fixed="n = 5\nprint(\"binary digits:\", len(bin(n)[2:]))"),)),
    Family("recursion", "algorithms / recursion / base case and recursive case", "Factorial and Fibonacci, "
           "recursively and with loops",
           ("A recursive function calls itself on a smaller input. It needs a base case that answers directly "
            "and a recursive case that reduces the problem: `factorial(n)` is 1 when `n` is 0, and otherwise "
            "`n * factorial(n - 1)`. Each call waits for the smaller one, and the results multiply back up.",
            "The Fibonacci numbers 0, 1, 1, 2, 3, 5, 8, ... have a recursive definition: `fib(0)` is 0, `fib(1)` "
            "is 1, and every later one is the sum of the two before it. Written as a function that calls itself "
            "twice, it repeats the same work many times, so it is only practical for small `n`.",
            "A recursive definition like these can be turned into a loop that builds the answer from the base "
            "case upward: a running product from 1 to `n` for the factorial, and a pair of the last two numbers "
            "for Fibonacci. The loop gives the same values without the chain of waiting calls."),
           (Mistake(wrong="def factorial(n):\n    if n == 0:\n        return 0\n    return n * factorial(n - 1)\n\n\n"
                          "print(factorial(5))",
                    why="The base case returns 0, and every result is a product that ends with it, so the function "
                        "gives 0 for every `n`. The factorial of 0 is 1, the neutral value of multiplication.",
                    fixed="def factorial(n):\n    if n == 0:\n        return 1\n    return n * factorial(n - 1)\n\n\n"
                          "print(factorial(5))"),
            Mistake(wrong="def fib(n):\n    if n <= 1:\n        return 1\n    return fib(n - 1) + fib(n - 2)\n\n\n"
                          "print([fib(n) for n in range(7)])",
                    why="Returning 1 for both base cases makes `fib(0)` 1 instead of 0, which shifts the whole "
                        "sequence by one place. Return `n` itself when `n <= 1`.",
                    fixed="def fib(n):\n    if n <= 1:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n\n"
                          "print([fib(n) for n in range(7)])"))),
    Family("conversions", "python / data types / converting between types", "Converting between numbers, text and "
           "booleans",
           ("The type names are also conversion functions: `str(42)` gives the text `'42'`, `int(3.9)` gives 3 and "
            "`float(7)` gives 7.0. Converting is needed whenever a value of one type meets an operation that "
            "expects another, such as joining a number into a message.",
            "`int` applied to a float truncates: it cuts off the fractional part and moves toward zero, so "
            "`int(2.7)` is 2 and `int(-2.7)` is -2. That is different from rounding, which `round` does.",
            "Booleans are integers in disguise: `int(True)` is 1 and `int(False)` is 0. To turn a boolean into "
            "words, a conditional expression like `\"yes\" if flag else \"no\"` is the clearest way."),
           (Mistake(wrong="count = 5\ntry:\n    print(\"Total: \" + count)\nexcept TypeError as error:\n"
                          "    print(\"TypeError:\", error)",
                    why="`+` cannot join a string and an integer; Python will not guess that the number should "
                        "become text. Convert it with `str` first.",
                    fixed="count = 5\nprint(\"Total: \" + str(count))"),)),
    Family("rounding", "python / numbers and arithmetic / rounding numbers with round", "Rounding numbers",
           ("`round(x, 2)` rounds a float to 2 decimal places and `round(x)` rounds it to the nearest integer. "
            "Rounding is what makes results such as averages, percentages and converted temperatures readable, "
            "and it is usually the last step of a calculation.",
            "Python's `round` sends an exact half to the even neighbour: `round(2.5)` is 2 and `round(3.5)` is 4. "
            "Floats are stored in binary, so a value like 2.675 is really a hair below it, and "
            "`round(2.675, 2)` gives 2.67.",
            "Because floats are approximations, results that should be equal can differ in the last digits: "
            "`0.1 + 0.2` is `0.30000000000000004`. Rounding both sides to a few decimals before comparing avoids "
            "the surprise."),
           (Mistake(wrong="total = 0.1 + 0.2\nprint(total == 0.3)",
                    why="Neither 0.1 nor 0.2 is exact in binary, and their sum is slightly more than 0.3, so the "
                        "comparison fails. Round before comparing.",
                    fixed="total = 0.1 + 0.2\nprint(round(total, 2) == 0.3)"),)),
    Family("logic", "python / conditionals / logical operators and or not", "Combining booleans with and, or, not",
           ("`and` is true only when both sides are true, `or` when at least one side is, and `not` flips a "
            "boolean. With booleans they return booleans, so `flag and other` can be returned directly, with no "
            "`if` needed. Exclusive or, true when exactly one side is, is simply `flag != other`.",
            "`and` and `or` short-circuit: if the left side already decides the answer, the right side is never "
            "evaluated. That lets a guard come first, as in `n > 0 and total % n == 0`."),
           (Mistake(wrong="answer = \"no\"\nif answer == \"yes\" or \"y\":\n    print(\"going ahead\")\nelse:\n"
                          "    print(\"stopping\")",
                    why="The condition is read as `(answer == \"yes\") or \"y\"`, and a non-empty string counts as "
                        "true, so it holds whatever the answer is. Each side of `or` needs its own comparison.",
                    fixed="answer = \"no\"\nif answer == \"yes\" or answer == \"y\":\n    print(\"going ahead\")\n"
                          "else:\n    print(\"stopping\")"),)),
    Family("formatting", "python / strings / formatting numbers in strings", "Formatting numbers as text",
           ("An f-string can format a number as it is inserted: `f\"{x:.2f}\"` shows exactly two decimals, "
            "`f\"{n:,}\"` puts commas between groups of three digits, and `f\"{n:05}\"` pads with zeros to width "
            "5. The built-in `format(x, \".2f\")` takes the same format specifications.",
            "Formatting produces text, not a number: `f\"{2.5:.2f}\"` is the string `'2.50'`, with the trailing "
            "zero that `round(2.5, 2)` cannot keep. Format at the very end, when the value is about to be shown, "
            "and keep computing with the number itself."),
           (Mistake(wrong="price = 2.5\nprint(\"$\" + str(round(price, 2)))",
                    why="Rounding gives the float 2.5, and a float never shows trailing zeros, so the price "
                        "prints as $2.5. A format specification fixes the number of decimals in the text.",
                    fixed="price = 2.5\nprint(f\"${price:.2f}\")"),)),
)

_OPS = (
    # arithmetic
    Op("double_number", "arithmetic", ("int", "nat"), "same",
       ("double the number", "multiply the number by 2", "take twice the value"),
       "{v} * 2", ("double", "doubled", "twice"), "doubled"),
    Op("add_amount", "arithmetic", ("int",), "int",
       ("add {arg} to the number", "increase the value by {arg} (which may be negative)",
        "shift the number by {arg}"),
       "{v} + {arg}", ("shifted", "plus", "offset"), "shifted", arg=OFFSET),
    Op("multiply_by", "arithmetic", ("int",), "int",
       ("multiply the number by {arg}", "scale the value by a factor of {arg}", "take {arg} times the number"),
       "{v} * {arg}", ("scaled", "times", "product"), "scaled", arg=FACTOR),
    # powers
    Op("square_number", "powers", ("int", "small"), "nat",
       ("square the number", "multiply the number by itself", "raise the value to the power 2"),
       "{v} ** 2", ("square", "squared"), "squared", builtin="pow({v}, 2)"),
    Op("cube_number", "powers", ("int",), "int",
       ("cube the number", "raise the number to the third power", "multiply the number by itself three times"),
       "{v} ** 3", ("cube", "cubed"), "cubed", builtin="pow({v}, 3)"),
    Op("power_of", "powers", ("small",), "nat",
       ("raise the number to the power {arg}", "compute the number to the power of {arg} (anything to the power 0 "
        "is 1)", "multiply together {arg} copies of the number, giving 1 when {arg} is 0"),
       "{v} ** {arg}", ("power", "raised"), "raised",
       loop="{out} = 1\nfor i in range({arg}):\n    {out} *= {v}", builtin="pow({v}, {arg})", arg=EXPONENT),
    Op("integer_sqrt", "powers", ("nat",), "nat",
       ("find the integer square root: the largest whole number whose square is at most the number",
        "take the square root of the number rounded down to a whole number",
        "compute the whole part of the number's square root"),
       "int({v} ** 0.5)", ("isqrt", "root", "sqrt"), "root",
       loop="{out} = 0\nwhile ({out} + 1) * ({out} + 1) <= {v}:\n    {out} += 1"),
    Op("is_perfect_square", "powers", ("int", "small"), "bool",
       ("check whether the number is a perfect square (the square of a whole number; negatives are not)",
        "decide whether some whole number squared gives exactly the number, which is never true for a negative "
        "number",
        "test if the value is a perfect square such as 0, 1, 4 or 9 (negative values are not)"),
       "{v} >= 0 and int({v} ** 0.5) ** 2 == {v}", ("is_square", "perfect_square", "square"), "is_square",
       loop="{out} = False\ni = 0\nwhile i * i <= {v}:\n    if i * i == {v}:\n        {out} = True\n    i += 1"),
    # integer division and remainder
    Op("halve_down", "division", ("int", "nat"), "same",
       ("halve the number, rounding down", "divide the number by 2 with floor division (an odd number rounds "
        "down)", "take half of the value with integer division (//), which rounds down"),
       "{v} // 2", ("half", "halved"), "halved"),
    Op("remainder_by", "division", ("int", "nat"), "nat",
       ("take the remainder after dividing the number by {arg}, a value from 0 to {arg} minus 1",
        "reduce the number modulo {arg} with %, so the result lies between 0 and {arg} minus 1",
        "find what is left over when the number is divided by {arg} (always at least 0 and below {arg})"),
       "{v} % {arg}", ("remainder", "mod"), "remainder", arg=DIVISOR),
    Op("is_even", "division", ("int", "nat", "pos", "small"), "bool",
       ("check whether the number is even", "decide if the value is divisible by 2",
        "test whether the number leaves no remainder when divided by 2"),
       "{v} % 2 == 0", ("even", "is_even"), "even"),
    Op("is_divisible_by", "division", ("int", "nat"), "bool",
       ("check whether the number is divisible by {arg}", "decide if {arg} divides the number exactly",
        "test whether the number leaves remainder 0 when divided by {arg}"),
       "{v} % {arg} == 0", ("divisible", "is_divisible"), "divisible", arg=DIVISOR),
    Op("last_digit", "division", ("nat",), "small",
       ("take the last digit of the number", "find the ones digit, the remainder modulo 10",
        "keep only the rightmost digit of the number"),
       "{v} % 10", ("last_digit", "ones_digit"), "last", builtin="int(str({v})[-1])"),
    Op("drop_last_digit", "division", ("nat",), "nat",
       ("remove the last digit of the number (a one-digit number becomes 0)",
        "drop the ones digit by dividing by 10 with //", "cut off the rightmost digit, giving 0 for a single digit"),
       "{v} // 10", ("trimmed", "without_last"), "trimmed"),
    # collatz
    Op("collatz_next", "collatz", ("pos",), "pos",
       ("apply one Collatz step: halve the number if it is even, otherwise triple it and add 1",
        "take the next number of the Collatz sequence: half of an even number, or three times an odd number "
        "plus 1",
        "replace the number by its Collatz successor (divide an even number by 2, turn an odd one into 3 times "
        "it plus 1)"),
       "{v} // 2 if {v} % 2 == 0 else 3 * {v} + 1", ("collatz", "next_collatz"), "next_value",
       loop="if {v} % 2 == 0:\n    {out} = {v} // 2\nelse:\n    {out} = 3 * {v} + 1"),
    # signs
    Op("absolute_value", "signs", ("int",), "nat",
       ("take the absolute value of the number", "drop the minus sign of the number, if it has one",
        "find the size of the number without its sign"),
       "-{v} if {v} < 0 else {v}", ("abs", "absolute", "magnitude"), "magnitude",
       loop="{out} = {v}\nif {out} < 0:\n    {out} = -{out}", builtin="abs({v})"),
    Op("sign_of", "signs", ("int",), "int",
       ("find the sign of the number: 1 if it is positive, -1 if it is negative and 0 for zero",
        "give -1, 0 or 1 according to whether the number is negative, zero or positive",
        "replace the number by its sign (-1 below zero, 0 at zero, 1 above zero)"),
       "1 if {v} > 0 else -1 if {v} < 0 else 0", ("sign", "signum"), "sign",
       loop="if {v} > 0:\n    {out} = 1\nelif {v} < 0:\n    {out} = -1\nelse:\n    {out} = 0"),
    Op("distance_to", "signs", ("int",), "nat",
       ("find how far the number is from {arg} (the absolute difference)",
        "compute the distance between the number and {arg}, which is never negative",
        "take the absolute value of the difference between the number and {arg}"),
       "abs({v} - {arg})", ("distance", "gap"), "distance",
       loop="{out} = {v} - {arg}\nif {out} < 0:\n    {out} = -{out}", arg=TARGET),
    # comparisons
    Op("clamp_to", "comparisons", ("int",), "nat",
       ("clamp the number to the range 0 to {arg}: a negative number becomes 0 and one above {arg} becomes {arg}",
        "limit the value so that it lies between 0 and {arg} inclusive, moving it to the nearest end if it is "
        "outside",
        "cap the number at {arg} and raise anything below 0 up to 0"),
       "0 if {v} < 0 else {arg} if {v} > {arg} else {v}", ("clamped", "clamp"), "clamped",
       loop="if {v} < 0:\n    {out} = 0\nelif {v} > {arg}:\n    {out} = {arg}\nelse:\n    {out} = {v}",
       builtin="min(max({v}, 0), {arg})", arg=UPPER),
    Op("at_least", "comparisons", ("int",), "int",
       ("take the larger of the number and {arg}", "raise the number to {arg} if it is below {arg}",
        "keep the number unless {arg} is bigger, in which case use {arg}"),
       "{v} if {v} > {arg} else {arg}", ("at_least", "larger"), "larger",
       loop="if {v} > {arg}:\n    {out} = {v}\nelse:\n    {out} = {arg}", builtin="max({v}, {arg})", arg=FLOOR),
    Op("in_range", "comparisons", ("int",), "bool",
       ("check whether the number lies between 0 and {arg}, both ends included",
        "decide if the value is at least 0 and at most {arg}",
        "test whether the number is in the range from 0 to {arg} inclusive"),
       "0 <= {v} <= {arg}", ("in_range", "between", "inside"), "inside",
       loop="{out} = False\nif {v} >= 0:\n    if {v} <= {arg}:\n        {out} = True", arg=UPPER),
    Op("is_positive", "comparisons", ("int",), "bool",
       ("check whether the number is positive (0 is not)", "decide if the value is greater than zero",
        "test whether the number is above 0"),
       "{v} > 0", ("positive", "is_positive"), "positive"),
    # digits
    Op("digit_sum", "digits", ("nat",), "nat",
       ("add up the digits of the number", "compute the sum of the number's decimal digits",
        "find the digit sum (for 472 it is 4 + 7 + 2 = 13)"),
       "sum(int(ch) for ch in str({v}))", ("digit_sum", "digits_total"), "digit_total",
       loop="{out} = 0\nx = {v}\nwhile x > 0:\n    {out} += x % 10\n    x //= 10", builtin="sum(map(int, str({v})))"),
    Op("digit_count", "digits", ("nat",), "pos",
       ("count the digits of the number (0 has one digit)", "find how many decimal digits the number has, "
        "counting 0 as one digit", "compute the length of the number written out in base 10"),
       "len(str({v}))", ("digit_count", "num_digits"), "digit_count",
       loop="{out} = 1\nx = {v}\nwhile x >= 10:\n    x //= 10\n    {out} += 1"),
    Op("reverse_digits", "digits", ("nat",), "nat",
       ("reverse the digits of the number (zeros that end up in front vanish, so 120 becomes 21)",
        "write the number's digits backwards and read the result as a number",
        "flip the order of the digits, turning 123 into 321 and 50 into 5"),
       "int(str({v})[::-1])", ("reversed_digits", "flipped", "mirror"), "flipped",
       loop="{out} = 0\nx = {v}\nwhile x > 0:\n    {out} = {out} * 10 + x % 10\n    x //= 10",
       builtin="int(\"\".join(reversed(str({v}))))"),
    Op("largest_digit", "digits", ("nat",), "small",
       ("find the largest digit of the number", "pick the biggest of the number's digits",
        "take the maximum decimal digit of the number"),
       "max(int(ch) for ch in str({v}))", ("max_digit", "largest_digit"), "top_digit",
       loop="{out} = 0\nfor ch in str({v}):\n    if int(ch) > {out}:\n        {out} = int(ch)",
       builtin="int(max(str({v})))"),
    Op("digit_list", "digits", ("nat",), "list[int]",
       ("split the number into its digits, as a list of integers from left to right",
        "list the decimal digits of the number in order, most significant first",
        "turn the number into a list of its digits (0 gives [0])"),
       "[int(ch) for ch in str({v})]", ("digits", "digit_list"), "digits",
       loop="{out} = []\nfor ch in str({v}):\n    {out}.append(int(ch))", builtin="list(map(int, str({v})))"),
    Op("count_even_digits", "digits", ("nat",), "nat",
       ("count how many digits of the number are even (0 counts as even)",
        "find the number of even digits in the number, where 0 is even",
        "tally the digits 0, 2, 4, 6 and 8 in the number"),
       "sum(1 for ch in str({v}) if int(ch) % 2 == 0)", ("even_digits", "even_count"), "even_count",
       loop="{out} = 0\nfor ch in str({v}):\n    if int(ch) % 2 == 0:\n        {out} += 1",
       builtin="len(list(filter(lambda ch: int(ch) % 2 == 0, str({v}))))"),
    Op("largest_arrangement", "digits", ("nat",), "nat",
       ("rearrange the digits to form the largest possible number",
        "sort the digits from largest to smallest and read them as a number",
        "build the biggest number that uses exactly the same digits"),
       "int(\"\".join(sorted(str({v}), reverse=True)))", ("largest_arrangement", "biggest"), "biggest"),
    Op("is_digit_palindrome", "digits", ("nat",), "bool",
       ("check whether the number reads the same backwards, digit by digit",
        "decide if the number is a palindrome such as 1221 or 7",
        "test whether the digits of the number are the same from left to right and from right to left"),
       "str({v}) == str({v})[::-1]", ("palindrome", "is_palindrome"), "palindrome",
       loop="{out} = True\nfor i in range(len(str({v})) // 2):\n    if str({v})[i] != str({v})[-1 - i]:\n"
            "        {out} = False",
       builtin="list(str({v})) == list(reversed(str({v})))"),
    # primes
    Op("is_prime", "primes", ("pos", "nat"), "bool",
       ("check whether the number is prime (0 and 1 are not prime)",
        "decide if the number is a prime, having exactly two divisors: 1 and itself",
        "test the number for primality by trying divisors up to its square root, treating 0 and 1 as not prime"),
       "{v} > 1 and all({v} % i != 0 for i in range(2, int({v} ** 0.5) + 1))", ("prime", "is_prime"), "prime",
       loop="{out} = {v} > 1\ni = 2\nwhile i * i <= {v}:\n    if {v} % i == 0:\n        {out} = False\n"
            "        break\n    i += 1"),
    Op("prime_factors", "primes", ("pos",), "list[int]",
       ("list the distinct prime factors of the number in ascending order (1 has none)",
        "find the primes that divide the number, each listed once, smallest first",
        "collect the different prime divisors of the number in increasing order"),
       "[i for i in range(2, {v} + 1) if {v} % i == 0 and all(i % j != 0 for j in range(2, i))]",
       ("prime_factors", "factors"), "factors",
       loop="{out} = []\nx = {v}\ni = 2\nwhile x > 1:\n    if x % i == 0:\n        {out}.append(i)\n"
            "        while x % i == 0:\n            x //= i\n    i += 1"),
    Op("primes_up_to", "primes", ("pos",), "list[int]",
       ("list every prime from 2 up to the number, inclusive, in ascending order",
        "collect the prime numbers that are at most the number, smallest first",
        "find all primes no greater than the number, in increasing order"),
       "[i for i in range(2, {v} + 1) if all(i % j != 0 for j in range(2, i))]", ("primes", "primes_up_to"),
       "primes",
       loop="{out} = []\nfor i in range(2, {v} + 1):\n    for j in range(2, i):\n        if i % j == 0:\n"
            "            break\n    else:\n        {out}.append(i)",
       builtin="list(filter(lambda i: all(i % j != 0 for j in range(2, i)), range(2, {v} + 1)))"),
    # divisors
    Op("divisors_of", "divisors", ("pos",), "list[int]",
       ("list all divisors of the number in ascending order, including 1 and the number itself",
        "find every positive whole number that divides the number exactly, smallest first",
        "collect the divisors of the number from 1 up to the number, in increasing order"),
       "[i for i in range(1, {v} + 1) if {v} % i == 0]", ("divisors",), "divisors",
       loop="{out} = []\nfor i in range(1, {v} + 1):\n    if {v} % i == 0:\n        {out}.append(i)",
       builtin="list(filter(lambda i: {v} % i == 0, range(1, {v} + 1)))"),
    Op("count_divisors", "divisors", ("pos",), "pos",
       ("count how many positive divisors the number has", "find how many whole numbers from 1 to the number "
        "divide it exactly", "tally the divisors of the number, counting 1 and the number itself"),
       "sum(1 for i in range(1, {v} + 1) if {v} % i == 0)", ("divisor_count", "num_divisors"), "divisor_count",
       loop="{out} = 0\nfor i in range(1, {v} + 1):\n    if {v} % i == 0:\n        {out} += 1",
       builtin="len(list(filter(lambda i: {v} % i == 0, range(1, {v} + 1))))"),
    Op("sum_proper_divisors", "divisors", ("pos",), "nat",
       ("add up the proper divisors of the number, meaning every divisor except the number itself (1 gives 0)",
        "compute the sum of the divisors that are smaller than the number",
        "total the divisors of the number, leaving out the number itself"),
       "sum(i for i in range(1, {v}) if {v} % i == 0)", ("proper_sum", "aliquot_sum"), "proper_total",
       loop="{out} = 0\nfor i in range(1, {v}):\n    if {v} % i == 0:\n        {out} += i",
       builtin="sum(filter(lambda i: {v} % i == 0, range(1, {v})))"),
    # gcd and lcm
    Op("gcd_with", "gcd", ("int", "pos"), "pos",
       ("find the greatest common divisor of the number and {arg}",
        "compute the largest whole number that divides both the number and {arg}",
        "take the greatest common divisor of the number and {arg} (for a number of 0 it is {arg})"),
       "max(i for i in range(1, {arg} + 1) if {v} % i == 0 and {arg} % i == 0)", ("gcd", "common_divisor"),
       "common", loop="{out} = abs({v})\nother = {arg}\nwhile other != 0:\n    {out}, other = other, {out} % other",
       arg=OTHER),
    Op("lcm_with", "gcd", ("pos",), "nat",
       ("find the least common multiple of the number and {arg}",
        "compute the smallest positive number that both the number and {arg} divide",
        "take the lowest common multiple of the number and {arg}"),
       "next(i for i in range({arg}, {v} * {arg} + 1, {arg}) if i % {v} == 0)", ("lcm", "common_multiple"),
       "multiple", loop="{out} = {arg}\nwhile {out} % {v} != 0:\n    {out} += {arg}", arg=OTHER),
    # accumulators
    Op("sum_to_n", "accumulators", ("small", "pos"), "nat",
       ("add up all whole numbers from 1 to the number (0 gives 0)", "compute 1 + 2 + 3 + ... up to the number",
        "find the total of the integers from 1 through the number, which is 0 for 0"),
       "{v} * ({v} + 1) // 2", ("sum_to", "triangular"), "running_total",
       loop="{out} = 0\nfor i in range(1, {v} + 1):\n    {out} += i", builtin="sum(range(1, {v} + 1))"),
    Op("sum_of_squares", "accumulators", ("small", "pos"), "nat",
       ("add up the squares 1 + 4 + 9 + ... of the whole numbers from 1 to the number (0 gives 0)",
        "compute the sum of the squares of the whole numbers from 1 to the number",
        "total the squares of 1, 2, 3 and so on up to the number"),
       "sum(i * i for i in range(1, {v} + 1))", ("square_sum", "sum_squares"), "square_total",
       loop="{out} = 0\nfor i in range(1, {v} + 1):\n    {out} += i * i",
       builtin="sum(map(lambda i: i * i, range(1, {v} + 1)))"),
    Op("triangular_numbers", "accumulators", ("small",), "list[int]",
       ("list the triangular numbers 1, 3, 6, 10, ..., as many of them as the number says (none for 0)",
        "build the list of running totals 1, 1 + 2, 1 + 2 + 3, ..., one for each whole number from 1 to the "
        "number",
        "collect the first triangular numbers in order, the count given by the number (an empty list for 0)"),
       "[i * (i + 1) // 2 for i in range(1, {v} + 1)]", ("triangles", "triangular_numbers"), "triangles",
       loop="{out} = []\nx = 0\nfor i in range(1, {v} + 1):\n    x += i\n    {out}.append(x)"),
    Op("first_multiples", "accumulators", ("int", "pos"), "list[int]",
       ("list the first {arg} multiples of the number: the number times 1, 2, ..., up to {arg}",
        "build a list of the number multiplied by each whole number from 1 to {arg} (empty when {arg} is 0)",
        "make the times table of the number from 1 times up to {arg} times, as a list"),
       "[{v} * i for i in range(1, {arg} + 1)]", ("multiples", "times_table"), "multiples",
       loop="{out} = []\nfor i in range(1, {arg} + 1):\n    {out}.append({v} * i)",
       builtin="list(map(lambda i: {v} * i, range(1, {arg} + 1)))", arg=COUNT),
    # binary
    Op("to_binary", "binary", ("nat",), "str",
       ("write the number in binary, without the 0b prefix", "convert the number to a string of binary digits "
        "(0 gives \"0\")", "express the number in base 2 as text, with no prefix"),
       "bin({v})[2:]", ("binary", "bits"), "bits",
       loop="{out} = str({v} % 2)\nx = {v} // 2\nwhile x > 0:\n    {out} = str(x % 2) + {out}\n    x //= 2",
       builtin="format({v}, \"b\")"),
    Op("is_power_of_two", "binary", ("pos",), "bool",
       ("check whether the number is a power of two (1, 2, 4, 8, ...; 0 is not)",
        "decide if the number is 2 multiplied by itself some number of times, counting 1 as 2 to the power 0",
        "test whether the binary form of the number has exactly one 1"),
       "{v} > 0 and bin({v}).count(\"1\") == 1", ("power_of_two", "is_power_of_two"), "power_two",
       loop="x = {v}\nwhile x > 1 and x % 2 == 0:\n    x //= 2\n{out} = x == 1"),
    Op("count_one_bits", "binary", ("nat",), "nat",
       ("count the 1 bits in the binary form of the number", "find how many ones appear when the number is "
        "written in base 2", "tally the digits equal to 1 in the number's binary representation"),
       "bin({v}).count(\"1\")", ("ones", "bit_count"), "ones",
       loop="{out} = 0\nx = {v}\nwhile x > 0:\n    {out} += x % 2\n    x //= 2",
       builtin="sum(map(int, bin({v})[2:]))"),
    # recursion (the lesson tells the recursive definitions; the solutions build the values with loops)
    Op("factorial", "recursion", ("small",), "nat",
       ("compute the factorial: the product of the whole numbers from 1 up to the number, which is 1 for 0",
        "multiply together every whole number from 1 to the number (the factorial; 0 gives 1)",
        "find the factorial of the number, written with an exclamation mark in mathematics (0! is 1, 5! is 120)"),
       "", ("factorial", "fact"), "fact",
       loop="{out} = 1\nfor i in range(2, {v} + 1):\n    {out} *= i"),
    Op("fibonacci", "recursion", ("small",), "nat",
       ("find the Fibonacci number whose position is the number, counting 0, 1, 1, 2, 3, 5, ... from position 0",
        "compute the Fibonacci number at the index given by the number, where the sequence starts 0, 1 and each "
        "later term is the sum of the two before it",
        "take the element of the Fibonacci sequence 0, 1, 1, 2, 3, 5, 8, ... whose index is the number, counting "
        "from 0"),
       "", ("fibonacci", "fib"), "fib",
       loop="{out} = 0\nx = 1\nfor i in range({v}):\n    {out}, x = x, {out} + x"),
    # conversions
    Op("int_to_str", "conversions", ("int", "nat"), "str",
       ("convert the number to a string", "turn the number into its text form, with a leading minus sign if it "
        "is negative", "write the number as a string of digits"),
       "str({v})", ("to_str", "as_text", "text"), "as_text"),
    Op("int_to_float", "conversions", ("int",), "float",
       ("convert the integer to a float", "turn the number into a floating-point number with the same value",
        "make a float out of the number, so that 7 becomes 7.0"),
       "float({v})", ("as_float", "to_float"), "as_float"),
    Op("truncate_float", "conversions", ("float",), "int",
       ("drop the fractional part of the number, keeping the whole part (toward zero, so -2.7 becomes -2)",
        "convert the number to an integer by truncation, as int() does",
        "cut off everything after the decimal point, giving an integer that is closer to zero"),
       "int({v})", ("truncated", "whole"), "whole"),
    Op("bool_to_int", "conversions", ("bool",), "int",
       ("turn the boolean into 1 for True and 0 for False", "convert the flag to an integer (True is 1, False "
        "is 0)", "count the flag as 1 if it is true, otherwise 0"),
       "1 if {v} else 0", ("as_int", "flag_value"), "as_int",
       loop="if {v}:\n    {out} = 1\nelse:\n    {out} = 0", builtin="int({v})"),
    Op("yes_or_no", "conversions", ("bool",), "word",
       ("answer \"yes\" if the flag is true and \"no\" otherwise", "turn the boolean into the word \"yes\" or "
        "\"no\"", "give \"yes\" for True and \"no\" for False"),
       "\"yes\" if {v} else \"no\"", ("yes_no", "answer"), "answer",
       loop="if {v}:\n    {out} = \"yes\"\nelse:\n    {out} = \"no\""),
    # rounding
    Op("round_to_whole", "rounding", ("float",), "int",
       ("round the number to the nearest whole number (an exact half goes to the even neighbour, as round does)",
        "round the value to an integer with round(), which sends halves to the nearest even number",
        "turn the number into the closest integer, breaking ties toward the even one"),
       "round({v})", ("rounded", "nearest"), "rounded"),
    Op("round_one_decimal", "rounding", ("float",), "float",
       ("round the number to 1 decimal place", "keep one digit after the decimal point, rounding to the nearest",
        "round the value to the nearest tenth"),
       "round({v}, 1)", ("one_decimal", "tenths"), "tenths"),
    Op("divide_by", "rounding", ("int", "nat"), "float",
       ("divide the number by {arg} and round the result to 2 decimals",
        "compute the number over {arg} as a float rounded to 2 decimal places",
        "split the number into {arg} equal shares and give one share, rounded to 2 decimals"),
       "round({v} / {arg}, 2)", ("share", "ratio", "divided"), "share", arg=PARTS),
    Op("percent_of", "rounding", ("float", "int"), "float",
       ("take {arg} percent of the number, rounded to 2 decimals",
        "compute the number times {arg} divided by 100, rounded to 2 decimal places",
        "find what {arg}% of the value is, rounded to 2 decimals"),
       "round({v} * {arg} / 100, 2)", ("percent", "portion"), "portion", arg=PERCENT),
    Op("celsius_to_fahrenheit", "rounding", ("float", "int"), "float",
       ("convert the temperature from Celsius to Fahrenheit (multiply by 9/5, then add 32) and round to 1 decimal",
        "turn degrees Celsius into degrees Fahrenheit, rounded to 1 decimal place",
        "treat the number as a Celsius temperature and give it in Fahrenheit, rounded to one decimal"),
       "round({v} * 9 / 5 + 32, 1)", ("fahrenheit", "to_fahrenheit"), "fahrenheit"),
    Op("fahrenheit_to_celsius", "rounding", ("float", "int"), "float",
       ("convert the temperature from Fahrenheit to Celsius (subtract 32, then multiply by 5/9) and round to 1 "
        "decimal", "turn degrees Fahrenheit into degrees Celsius, rounded to 1 decimal place",
        "treat the number as a Fahrenheit temperature and give it in Celsius, rounded to one decimal"),
       "round(({v} - 32) * 5 / 9, 1)", ("celsius", "to_celsius"), "celsius"),
    # logic
    Op("negate_flag", "logic", ("bool",), "bool",
       ("negate the boolean", "flip the flag, turning True into False and False into True",
        "give the opposite truth value"),
       "not {v}", ("negated", "flipped_flag", "opposite"), "negated",
       loop="if {v}:\n    {out} = False\nelse:\n    {out} = True"),
    Op("both_true", "logic", ("bool",), "bool",
       ("check whether both the flag and {arg} are true", "combine the flag with {arg} using and",
        "decide if the flag and {arg} hold at the same time"),
       "{v} and {arg}", ("both", "all_set"), "both",
       loop="{out} = False\nif {v}:\n    if {arg}:\n        {out} = True", builtin="all([{v}, {arg}])", arg=FLAG),
    Op("either_true", "logic", ("bool",), "bool",
       ("check whether the flag or {arg} is true (or both)", "combine the flag with {arg} using or",
        "decide if at least one of the flag and {arg} holds"),
       "{v} or {arg}", ("either", "any_set"), "either",
       loop="{out} = False\nif {v}:\n    {out} = True\nelif {arg}:\n    {out} = True", builtin="any([{v}, {arg}])",
       arg=FLAG),
    Op("exactly_one_true", "logic", ("bool",), "bool",
       ("check whether exactly one of the flag and {arg} is true", "decide if the flag and {arg} differ, one "
        "true and the other false", "test whether either the flag or {arg} holds, but not both"),
       "{v} != {arg}", ("exactly_one", "differ"), "exactly_one",
       loop="if {v}:\n    {out} = not {arg}\nelse:\n    {out} = {arg}", arg=FLAG),
    # formatting
    Op("with_commas", "formatting", ("nat",), "str",
       ("format the number with commas between groups of three digits, like 1,234,567",
        "write the number as text with a comma as the thousands separator",
        "turn the number into a string that groups its digits in threes with commas, such as 12,500"),
       "f\"{{{v}:,}}\"", ("with_commas", "grouped"), "grouped", builtin="format({v}, \",\")"),
    Op("two_decimals_text", "formatting", ("float",), "str",
       ("format the number as text with exactly 2 digits after the decimal point",
        "write the value as a string rounded to 2 decimals, keeping trailing zeros (2.5 becomes \"2.50\")",
        "turn the number into a string with two decimal places, rounding to the nearest hundredth"),
       "f\"{{{v}:.2f}}\"", ("formatted", "two_decimals"), "formatted", builtin="format({v}, \".2f\")"),
    Op("zero_padded", "formatting", ("nat",), "str",
       ("write the number with leading zeros so that it is at least {arg} characters long",
        "pad the number on the left with zeros to a width of {arg}",
        "turn the number into a string of at least {arg} digits, adding zeros in front"),
       "str({v}).zfill({arg})", ("padded", "zero_padded"), "padded", builtin="str({v}).rjust({arg}, \"0\")",
       arg=WIDTH),
)

# A number, a boolean and a number written as text are never empty, so every operation here gives a
# non-empty output (a later step may take its max or first item) except these, which can give [].
CAN_GIVE_EMPTY = frozenset({"prime_factors", "primes_up_to", "triangular_numbers", "first_multiples"})
OPS = tuple(replace(op, keeps_nonempty=op.key not in CAN_GIVE_EMPTY) for op in _OPS)
