"""Operations on strings and lists of words: letter case, character tests, replacing, slicing,
building, splitting and joining, reversing words, searching, counting, palindromes, character
codes, and the maps, filters, sorts and tallies of a list of words. See concepts.py for the types."""

from __future__ import annotations

from textbooks.synth.curriculum.concepts import Arg, Family, Mistake, Op

TEXTS = ("str", "word", "sentence")  # every kind of text an operation on any string takes
LETTER = Arg("char", ("letter", "target", "symbol", "mark"))
TIMES = Arg("small", ("n", "k", "reps", "repeat_count"))
HOW_MANY = Arg("small", ("n", "k", "n_chars", "keep_n"))
MIN_LEN = Arg("small", ("min_len", "min_length", "size_limit", "cutoff"))
MAX_LEN = Arg("small", ("max_len", "max_length", "limit_len"))
SHIFT = Arg("int", ("shift", "offset", "key_shift"))

FAMILIES = (
    Family("str_case", "python / strings / changing letter case", "Changing the case of letters",
           ("Python strings have methods that change the case of their letters: `upper()` makes every letter a "
            "capital, `lower()` makes every letter small, `swapcase()` flips each one, and `capitalize()` "
            "gives a capital first character followed by small letters. Characters that are not letters, "
            "such as digits, spaces and punctuation, pass through unchanged.",
            "To change the case of only some letters, walk through the text and decide for each character: "
            "the first letter of every word upper, the rest lower, for instance. Building the result with "
            "`result += ch.upper()` or `result += ch.lower()` shows exactly what happens to every character, "
            "which is what methods like `capitalize()` and `swapcase()` do inside.",
            "A string can never be changed in place, so case methods such as `upper()` and `lower()` always "
            "return a new string and leave the original as it was. To keep the result, assign it to a name: "
            "`shout = text.upper()`. When a loop looks at the text one character at a time, `ch.isupper()` and "
            "`ch.islower()` tell whether a character is a capital or a small letter."),
           (Mistake(wrong='name = "ada lovelace"\nname.upper()\nprint(name)',
                    why="Strings are immutable: `upper()` cannot change the string it is called on, it returns "
                        "a new one. Calling it without keeping the result throws the uppercase copy away.",
                    fixed='name = "ada lovelace"\nname = name.upper()\nprint(name)'),
            Mistake(wrong='title = "the old man and the sea"\nprint(title.capitalize())',
                    why="`capitalize()` only makes the first character of the whole string a capital. To start "
                        "every word with a capital, capitalize the words one by one (or use `title()`).",
                    fixed='title = "the old man and the sea"\n'
                          'print(" ".join(word.capitalize() for word in title.split(" ")))'))),
    Family("str_char_tests", "python / strings / checking characters with isdigit and isalpha",
           "Asking what kind of character it is",
           ("The methods `isalpha()` and `isdigit()` ask what a string is made of: `'a'.isalpha()` is True "
            "and `'7'.isdigit()` is True. Used on a single character inside a loop, they let you keep, drop "
            "or count characters by kind, for example keeping only the letters of a messy line of text.",
            "Called on a longer string, `isalpha()` and `isdigit()` ask about every character at once: "
            "`'abc1'.isalpha()` is False because one character is not a letter, and an empty string gives False "
            "for both. To ask whether at least one character is a digit, test each character and combine the "
            "answers with `any`; to ask whether all of them are, use `all` or the method on the whole string."),
           (Mistake(wrong='password = "secret42"\nif password.isdigit():\n    print("has a digit")\n'
                          'else:\n    print("no digit")',
                    why="`isdigit()` on a whole string asks whether every character is a digit, not whether "
                        "some character is. To ask about at least one character, test each one and combine the "
                        "answers with `any`.",
                    fixed='password = "secret42"\nif any(ch.isdigit() for ch in password):\n'
                          '    print("has a digit")\nelse:\n    print("no digit")'),)),
    Family("str_replace", "python / strings / replacing text in strings", "Replacing and removing characters",
           ("The method `text.replace(old, new)` returns a copy of the text in which every occurrence of "
            "`old` is replaced by `new`. Replacing with the empty string `''` removes the character "
            "altogether, so `'a b c'.replace(' ', '')` gives `'abc'`.",
            "When the characters to replace follow a rule, such as 'every vowel', rather than being one fixed "
            "character, build the new string yourself: walk through the characters and add each one, or its "
            "replacement, to a result that starts as `''`. `''.join(...)` over a generator does the same in one "
            "line, and the original string stays untouched, because strings cannot be changed in place."),
           (Mistake(wrong='word = "banana"\n# we want to change only the first "a"\nprint(word.replace("a", "o"))',
                    why="`replace` changes every occurrence unless it is told how many: here all three a's "
                        "become o's. A third argument limits the number of replacements.",
                    fixed='word = "banana"\n# we want to change only the first "a"\nprint(word.replace("a", "o", 1))'),
            Mistake(wrong='text = "jello"\ntry:\n    text[0] = "h"\nexcept TypeError as error:\n'
                          '    print("TypeError:", error)\nprint(text)',
                    why="A string cannot be changed one character at a time: item assignment raises a "
                        "TypeError. Build a new string from the pieces you want instead.",
                    fixed='text = "jello"\ntext = "h" + text[1:]\nprint(text)'))),
    Family("str_slicing", "python / strings / string slicing", "Taking pieces of a string with slices",
           ("A slice `text[start:stop]` is the part of a string from index `start` up to, but not including, "
            "index `stop`. Either end may be left out: `text[:3]` is the first three characters and `text[1:]` "
            "everything but the first. A slice never raises an error, even when it reaches past the end; it "
            "just gives fewer characters, possibly none.",
            "A slice can take a third number, the step: `text[::2]` takes every second character and `text[::-1]` "
            "walks backwards, which reverses the string. Single positions are read with an index instead, "
            "`text[0]` for the first character and `text[-1]` for the last, and an index out of range does raise "
            "an IndexError."),
           (Mistake(wrong='word = "python"\ntry:\n    print(word[len(word)])\nexcept IndexError as error:\n'
                          '    print("IndexError:", error)',
                    why="Indexes start at 0, so the last character of a string of length n is at index n - 1; "
                        "index n is one step past the end.",
                    fixed='word = "python"\nprint(word[len(word) - 1])\nprint(word[-1])'),)),
    Family("str_building", "python / strings / string concatenation and repetition", "Building new strings",
           ("The `+` operator glues two strings together into a new one, and `*` repeats a string: "
            "`'ab' * 3` is `'ababab'` and anything times 0 is the empty string. A common way to build a "
            "string step by step is to start with `result = ''` and add pieces in a loop with `result += piece`.",
            "The method `sep.join(pieces)` puts the separator between neighbouring pieces, so `'-'.join('abc')` "
            "gives `'a-b-c'`: a string counts as a sequence of its characters. Only strings can be joined or "
            "concatenated with strings; a number must first be turned into text with `str()`."),
           (Mistake(wrong='age = 12\ntry:\n    print("I am " + age + " years old")\nexcept TypeError as error:\n'
                          '    print("TypeError:", error)',
                    why="`+` between a string and an integer is an error in Python: it will not guess that the "
                        "number should become text. Convert it with `str()` (or use an f-string).",
                    fixed='age = 12\nprint("I am " + str(age) + " years old")'),)),
    Family("str_split_join", "python / strings / splitting and joining strings", "Splitting text and joining words",
           ("`text.split()` cuts a string into a list of words wherever there is whitespace, skipping any extra "
            "spaces, so `'  to  be '.split()` is `['to', 'be']`. With an argument it cuts at exactly that "
            "separator instead: `'a,b,,c'.split(',')` is `['a', 'b', '', 'c']`, empty pieces included.",
            "Joining is the opposite of splitting: `' '.join(words)` builds one string with a space between "
            "neighbouring words, and `''.join(words)` glues them with nothing between. Splitting a sentence, "
            "working on the list of words (counting them, measuring them, picking one) and joining the result "
            "back is the everyday pattern of text processing.",
            "A string can be split into pieces and joined back in many ways. `list(text)` gives its characters "
            "one by one, `text.split(',')` gives the fields of a comma-separated line, and `', '.join(pieces)` "
            "turns a list back into a readable string. When the result must be a list of numbers, convert each "
            "piece, for example with `[len(word) for word in text.split()]` or `int(piece)`."),
           (Mistake(wrong='line = "red  green blue"\nprint(line.split(" "))',
                    why="Splitting at a single space keeps an empty string for every extra space. `split()` "
                        "with no argument splits at any run of whitespace and never gives empty words.",
                    fixed='line = "red  green blue"\nprint(line.split())'),
            Mistake(wrong='numbers = [1, 2, 3]\ntry:\n    print(", ".join(numbers))\nexcept TypeError as error:\n'
                          '    print("TypeError:", error)',
                    why="`join` only accepts strings; integers must be converted to text first.",
                    fixed='numbers = [1, 2, 3]\nprint(", ".join(str(x) for x in numbers))'))),
    Family("str_word_order", "algorithms / string algorithms / reversing words in a sentence",
           "Reversing and reordering the words of a sentence",
           ("To reverse the order of the words in a sentence, split it into a list of words, reverse the "
            "list, and join it back with spaces: `' '.join(sentence.split()[::-1])`. The letters inside each "
            "word stay as they were; only the order of the words changes.",
            "Reversing the letters of each word while keeping the words in place is a different task from "
            "reversing their order: split the sentence, reverse every word on its own with `word[::-1]`, and join "
            "them again. Sorting the words of a sentence works the same way, with `sorted` applied to the list "
            "between the split and the join."),
           (Mistake(wrong='sentence = "the cat sat"\nprint(sentence[::-1])',
                    why="Reversing the whole string reverses the letters too, giving backwards words. To "
                        "reverse only the order of the words, reverse the list of words instead.",
                    fixed='sentence = "the cat sat"\nprint(" ".join(sentence.split()[::-1]))'),)),
    Family("str_search", "python / strings / searching inside strings", "Searching inside a string",
           ("The `in` operator tells whether a piece occurs in a string: `'t' in 'cat'` is True. To know where, "
            "`text.find(piece)` returns the index of the first occurrence and `text.rfind(piece)` of the last; "
            "both return -1 when the piece is not there. `text.startswith(prefix)` checks the beginning only.",
            "A search by hand is a loop that stops early: look at each position in turn, and as soon as the "
            "character you want turns up, record its index and `break`. Start the answer at a 'not found' "
            "value such as -1 or the empty string, so that it is already right when the loop finds nothing.",
            "Python can also search with builtins: `any(ch.isdigit() for ch in text)` stops at the first digit "
            "it meets, and `next((i for i, ch in enumerate(text) if ch == 'a'), -1)` gives the index of the "
            "first 'a', or -1 when the generator runs out without finding one. Both look at the characters "
            "from left to right and stop as soon as the answer is known."),
           (Mistake(wrong='text = "hello"\nposition = text.find("z")\nprint(text[position])',
                    why="`find` returns -1 when the piece is missing, and -1 is also a valid index (the last "
                        "character), so the mistake goes unnoticed. Check for -1 before using the position.",
                    fixed='text = "hello"\nposition = text.find("z")\nif position == -1:\n    print("not found")\n'
                          'else:\n    print(text[position])'),)),
    Family("str_counting", "algorithms / string algorithms / counting characters", "Counting characters",
           ("Counting characters is a loop with a counter: start at 0 and add 1 for every character that "
            "passes a test, such as being a vowel. For one particular character the method `text.count(ch)` "
            "does the whole loop for you.",
            "To count every character at once, keep a dictionary from character to count: for each character, "
            "`counts[ch] = counts.get(ch, 0) + 1`. The dictionary's keys are then the distinct characters, "
            "and its values say how often each occurred; `len(set(text))` gives just the number of distinct "
            "characters.",
            "Text is case-sensitive, so 'A' and 'a' are different characters to `count` and to a dictionary. "
            "When case should not matter, lower the text first with `text.lower()`. To count a group of "
            "characters, such as vowels, check membership in a string of them: `ch in 'aeiouAEIOU'`."),
           (Mistake(wrong='name = "Anna"\nprint(name.count("a"))',
                    why="Comparisons of characters are case-sensitive: 'A' and 'a' are different characters, so "
                        "the capital A is not counted. Lower the text first to count both.",
                    fixed='name = "Anna"\nprint(name.lower().count("a"))'),)),
    Family("str_palindromes", "algorithms / string algorithms / checking palindromes", "Palindromes",
           ("A palindrome reads the same forwards and backwards, like 'level' or 'abba'. The shortest check in "
            "Python compares a string with its reverse: `text == text[::-1]`. An empty string and a single "
            "character are palindromes too.",
            "A palindrome can also be checked with two positions, one starting at the front of the text and one "
            "at the back. Compare the characters there and move both towards the middle; the first mismatch "
            "proves it is not a palindrome, and if they meet without a mismatch it is. For sentences, skip spaces "
            "and punctuation and compare letters without regard to case."),
           (Mistake(wrong='word = "Racecar"\nprint(word == word[::-1])',
                    why="The capital R at the front is compared with the small r at the back, and they differ. "
                        "Lower the word before comparing when case should not matter.",
                    fixed='word = "Racecar".lower()\nprint(word == word[::-1])'),)),
    Family("str_codes", "python / strings / character codes with ord and chr", "Characters as numbers",
           ("Every character has a number, its code: `ord('a')` is 97, `ord('b')` is 98, and so on through "
            "the alphabet. `chr` goes the other way, `chr(97)` is `'a'`. Because the lowercase letters have "
            "consecutive codes, `ord(ch) - ord('a')` is a letter's position in the alphabet counting from 0.",
            "Arithmetic on codes lets you move through the alphabet, as the Caesar cipher does: to shift a "
            "letter, take its position, add the shift, wrap around with `% 26` so that z is followed by a, and "
            "turn the position back into a letter with `chr(position + ord('a'))`."),
           (Mistake(wrong='letter = "z"\nprint(chr(ord(letter) + 1))',
                    why="The character whose code follows the code of 'z' is '{', not 'a': the codes do not "
                        "wrap around by themselves. Work with the position in the alphabet and take it modulo 26.",
                    fixed='letter = "z"\nprint(chr((ord(letter) - ord("a") + 1) % 26 + ord("a")))'),)),
    Family("words_maps", "python / strings / common string methods", "Changing every word of a list",
           ("String methods such as `upper()`, `capitalize()` and slicing with `[::-1]` work on one string. To "
            "apply one to every word in a list, write a list comprehension: `[word.upper() for word in words]` "
            "gives a new list with the changed words in the same order.",
            "The built-in `map` applies a function to every item of a list: `list(map(str.upper, words))` calls "
            "`str.upper` on each word and collects the results. The new list has as many items as the old one, in "
            "the same order, and the old list still holds the original words."),
           (Mistake(wrong='words = ["apple", "kiwi"]\nfor word in words:\n    word = word.upper()\nprint(words)',
                    why="Assigning to the loop variable only rebinds that name; the list keeps its old strings. "
                        "Build a new list of the changed words instead.",
                    fixed='words = ["apple", "kiwi"]\nwords = [word.upper() for word in words]\nprint(words)'),)),
    Family("words_filters", "python / lists / list comprehensions", "Keeping the words you want",
           ("A list comprehension with a condition keeps only the words that pass a test: "
            "`[word for word in words if len(word) > 3]` keeps the words of more than three letters, in their "
            "original order. Any string test fits there, such as `word.startswith('a')` or `'e' in word`.",
            "The built-in `filter` keeps the items for which a function returns True: "
            "`list(filter(lambda word: 'e' in word, words))` keeps the words that contain an e. A loop that "
            "starts from an empty list and appends each word that passes the test does the same, and every "
            "one of these ways keeps the words in their original order."),
           (Mistake(wrong='words = ["fig", "apple", "kiwi"]\ntry:\n    print([word for word in words if word > 3])\n'
                          'except TypeError as error:\n    print("TypeError:", error)',
                    why="A string cannot be compared with a number. To test a word's length, compare "
                        "`len(word)` with the number.",
                    fixed='words = ["fig", "apple", "kiwi"]\nprint([word for word in words if len(word) > 3])'),)),
    Family("words_sorting", "python / lists / sorting lists with sort and sorted", "Sorting words",
           ("`sorted(words)` returns a new list of the words in alphabetical order, comparing them character "
            "by character, and `sorted(words, reverse=True)` gives the opposite order. `min(words)` and "
            "`max(words)` give the first and the last word alphabetically without sorting everything.",
            "A `key` function sorts by something computed from each word: `sorted(words, key=len)` orders "
            "them from shortest to longest. With `key=lambda word: (len(word), word)` the words of equal "
            "length are further ordered alphabetically, because tuples are compared item by item.",
            "Sorting can be written by hand as insertion: take the words one at a time and insert each into a "
            "result list just before the first word that should come after it. `result.insert(i, word)` "
            "shifts the later words one place to the right. The result is the same list `sorted` would give."),
           (Mistake(wrong='fruits = ["pear", "apple", "fig"]\nfruits = fruits.sort()\nprint(fruits)',
                    why="`list.sort()` sorts the list in place and returns None, so assigning its result "
                        "loses the list. Use `sorted(fruits)` for a new list, or call `fruits.sort()` alone.",
                    fixed='fruits = ["pear", "apple", "fig"]\nfruits = sorted(fruits)\nprint(fruits)'),
            Mistake(wrong='names = ["bob", "alice", "Carol"]\nprint(sorted(names))',
                    why="Every capital letter comes before every small letter in Python's order, so 'Carol' "
                        "sorts first. Sort with `key=str.lower` to ignore case.",
                    fixed='names = ["bob", "alice", "Carol"]\nprint(sorted(names, key=str.lower))'))),
    Family("words_stats", "projects / text processing / counting words in a text", "Measuring a list of words",
           ("Counting words is the first step of most text statistics. With a dictionary you can tally how "
            "often each word occurs: loop over the words and do `counts[word] = counts.get(word, 0) + 1`. "
            "The dictionary keeps the words in the order they first appeared.",
            "Most word statistics follow one loop-and-accumulate pattern: add up `len(word)` for the total number "
            "of letters, count the words that pass a test, or remember the longest word seen so far and replace "
            "it only when a strictly longer one comes along, so that the first one wins a tie."),
           (Mistake(wrong='words = ["a", "b", "a"]\ncounts = {}\ntry:\n    for word in words:\n'
                          '        counts[word] += 1\nexcept KeyError as error:\n    print("KeyError:", error)\n'
                          'print(counts)',
                    why="`counts[word] += 1` reads `counts[word]` first, and a word seen for the first time has "
                        "no entry yet. Start each count at 0 with `counts.get(word, 0) + 1`.",
                    fixed='words = ["a", "b", "a"]\ncounts = {}\nfor word in words:\n'
                          '    counts[word] = counts.get(word, 0) + 1\nprint(counts)'),)),
)

OPS = (
    # --- letter case ---
    Op("text_upper", "str_case", TEXTS, "str",
       ("convert the text to uppercase", "make every letter of the text a capital letter",
        "turn all the lowercase letters into uppercase ones, leaving the other characters as they are"),
       "{v}.upper()", ("upper", "uppercase", "shout"), "upper_text",
       loop='{out} = ""\nfor ch in {v}:\n    {out} += ch.upper()',
       builtin='"".join(map(str.upper, {v}))', keeps_nonempty=True),
    Op("text_lower", "str_case", ("str",), "same",
       ("convert the text to lowercase", "make every letter of the text a small letter",
        "turn all the uppercase letters into lowercase ones, leaving the other characters as they are"),
       "{v}.lower()", ("lower", "lowercase", "quiet"), "lower_text",
       loop='{out} = ""\nfor ch in {v}:\n    {out} += ch.lower()',
       builtin='"".join(map(str.lower, {v}))', keeps_nonempty=True),
    Op("text_swap_case", "str_case", TEXTS, "str",
       ("swap the case of every letter, so uppercase becomes lowercase and lowercase becomes uppercase",
        "turn each capital letter into a small one and each small letter into a capital",
        "invert the case of the letters, leaving the characters that are not letters unchanged"),
       "{v}.swapcase()", ("swapped", "swapcase", "inverted"), "swapped",
       loop='{out} = ""\nfor ch in {v}:\n    if ch.isupper():\n        {out} += ch.lower()\n'
            '    else:\n        {out} += ch.upper()',
       builtin='"".join(map(str.swapcase, {v}))', keeps_nonempty=True),
    Op("text_capitalize_words", "str_case", TEXTS, "str",
       ("capitalize each word: its first character becomes uppercase and the rest lowercase, with the "
        "spaces between the words kept exactly as they are",
        "make every space-separated word start with a capital followed by lowercase letters, keeping the spacing",
        "write each word of the text with a capital first character and small letters after it, leaving the "
        "spaces unchanged"),
       '" ".join(word.capitalize() for word in {v}.split(" "))', ("capitalized", "titled", "title"), "titled",
       loop='{out} = ""\nfor i in range(len({v})):\n    if i == 0 or {v}[i - 1] == " ":\n'
            '        {out} += {v}[i].upper()\n    else:\n        {out} += {v}[i].lower()',
       builtin='" ".join(map(str.capitalize, {v}.split(" ")))', keeps_nonempty=True),
    Op("text_capitalize_first", "str_case", TEXTS, "str",
       ("make the first character uppercase and all the other characters lowercase",
        "capitalize the text: an uppercase first character followed by lowercase letters only",
        "write the text with only its first character as a capital, lowering every other letter"),
       "{v}.capitalize()", ("capitalize", "cap_first"), "capitalized",
       loop='{out} = ""\nfor i in range(len({v})):\n    if i == 0:\n        {out} += {v}[i].upper()\n'
            '    else:\n        {out} += {v}[i].lower()',
       builtin="{v}[:1].upper() + {v}[1:].lower()", keeps_nonempty=True),
    Op("text_has_no_upper", "str_case", ("str",), "bool",
       ("check whether the text has no uppercase letters at all (True for an empty text)",
        "tell whether the text is free of capital letters, giving True when it contains none",
        "decide if none of the characters is an uppercase letter"),
       "{v} == {v}.lower()", ("no_upper", "all_lower", "is_lower"), "all_lower",
       loop="{out} = True\nfor ch in {v}:\n    if ch.isupper():\n        {out} = False\n        break",
       builtin="not any(map(str.isupper, {v}))"),
    Op("text_count_upper", "str_case", ("str",), "int",
       ("count the uppercase letters", "find how many capital letters the text contains",
        "count the characters that are uppercase letters"),
       "sum(1 for ch in {v} if ch.isupper())", ("upper_count", "capitals"), "capitals",
       loop="{out} = 0\nfor ch in {v}:\n    if ch.isupper():\n        {out} += 1",
       builtin="len(list(filter(str.isupper, {v})))"),
    # --- kinds of characters ---
    Op("text_keep_letters", "str_char_tests", ("str",), "str",
       ("keep only the letters, dropping digits, spaces and punctuation",
        "remove every character that is not a letter", "filter the text down to its letters, in order"),
       '"".join(ch for ch in {v} if ch.isalpha())', ("letters", "alpha"), "letters",
       loop='{out} = ""\nfor ch in {v}:\n    if ch.isalpha():\n        {out} += ch',
       builtin='"".join(filter(str.isalpha, {v}))'),
    Op("text_keep_digits", "str_char_tests", ("str",), "str",
       ("keep only the digit characters, in order", "remove every character that is not a digit from 0 to 9",
        "filter the text down to its digits, dropping letters, spaces and punctuation"),
       '"".join(ch for ch in {v} if ch.isdigit())', ("digits", "digit_chars"), "digit_text",
       loop='{out} = ""\nfor ch in {v}:\n    if ch.isdigit():\n        {out} += ch',
       builtin='"".join(filter(str.isdigit, {v}))'),
    Op("text_all_letters", "str_char_tests", ("str",), "bool",
       ("check whether the text is non-empty and made only of letters",
        "tell whether every character is a letter (False for an empty text)",
        "decide if the text consists of letters alone, with at least one of them"),
       "{v}.isalpha()", ("all_letters", "is_alpha", "alphabetic"), "only_letters",
       loop="{out} = len({v}) > 0\nfor ch in {v}:\n    if not ch.isalpha():\n        {out} = False\n        break",
       builtin="len({v}) > 0 and all(map(str.isalpha, {v}))"),
    Op("text_has_digit", "str_char_tests", ("str",), "bool",
       ("check whether the text contains at least one digit", "tell whether any character is a digit",
        "decide if a digit from 0 to 9 appears anywhere in the text"),
       "any(ch.isdigit() for ch in {v})", ("has_digit", "any_digit"), "has_digit",
       loop="{out} = False\nfor ch in {v}:\n    if ch.isdigit():\n        {out} = True\n        break",
       builtin="any(map(str.isdigit, {v}))"),
    Op("text_count_digits", "str_char_tests", ("str",), "int",
       ("count the digits in the text", "find how many characters are digits",
        "count the characters from 0 to 9"),
       "sum(1 for ch in {v} if ch.isdigit())", ("digit_count", "digits"), "digit_count",
       loop="{out} = 0\nfor ch in {v}:\n    if ch.isdigit():\n        {out} += 1",
       builtin="len(list(filter(str.isdigit, {v})))"),
    Op("text_digit_values", "str_char_tests", ("str",), "list[int]",
       ("collect the digits of the text as a list of integers, in the order they appear",
        "turn every digit character into its integer value, skipping all other characters",
        "make a list of the digits found in the text, each as an int"),
       "[int(ch) for ch in {v} if ch.isdigit()]", ("digit_values", "digits"), "digit_values",
       loop="{out} = []\nfor ch in {v}:\n    if ch.isdigit():\n        {out}.append(int(ch))",
       builtin="list(map(int, filter(str.isdigit, {v})))"),
    # --- replacing ---
    Op("text_replace_with_dash", "str_replace", ("sentence",), "str",
       ("replace every occurrence of {arg} with a dash (-)", "put a dash (-) in place of each {arg}",
        "change each {arg} into a dash (-), keeping every other character"),
       '{v}.replace({arg}, "-")', ("dashed", "masked"), "dashed",
       loop='{out} = ""\nfor ch in {v}:\n    if ch == {arg}:\n        {out} += "-"\n    else:\n        {out} += ch',
       builtin='"".join(map(lambda ch: "-" if ch == {arg} else ch, {v}))', arg=LETTER, keeps_nonempty=True),
    Op("text_remove_char", "str_replace", ("sentence",), "str",
       ("remove every occurrence of {arg}", "delete each {arg} from the text",
        "drop all the characters equal to {arg}, keeping the rest in order"),
       '{v}.replace({arg}, "")', ("without", "removed", "stripped"), "without",
       loop='{out} = ""\nfor ch in {v}:\n    if ch != {arg}:\n        {out} += ch',
       builtin='"".join(filter(lambda ch: ch != {arg}, {v}))', arg=LETTER),
    Op("text_remove_vowels", "str_replace", TEXTS, "str",
       ("remove every vowel (a, e, i, o, u, in either case)",
        "delete the vowels a, e, i, o and u, both lowercase and uppercase",
        "drop all vowels, uppercase or lowercase, keeping the other characters in order"),
       '"".join(ch for ch in {v} if ch not in "aeiouAEIOU")', ("no_vowels", "consonants", "devoweled"), "consonants",
       loop='{out} = ""\nfor ch in {v}:\n    if ch not in "aeiouAEIOU":\n        {out} += ch',
       builtin='"".join(filter(lambda ch: ch not in "aeiouAEIOU", {v}))'),
    Op("text_spaces_to_underscores", "str_replace", ("sentence",), "str",
       ("replace every space with an underscore", "put an underscore (_) in place of each space",
        "change each space character into an underscore, keeping everything else"),
       '{v}.replace(" ", "_")', ("underscored", "snake"), "underscored",
       loop='{out} = ""\nfor ch in {v}:\n    if ch == " ":\n        {out} += "_"\n    else:\n        {out} += ch',
       builtin='"_".join({v}.split(" "))', keeps_nonempty=True),
    Op("text_remove_spaces", "str_replace", ("sentence",), "str",
       ("remove all the spaces", "delete every space character from the text",
        "squeeze out the spaces, keeping the other characters in order"),
       '{v}.replace(" ", "")', ("no_spaces", "squeezed", "compact"), "compact",
       loop='{out} = ""\nfor ch in {v}:\n    if ch != " ":\n        {out} += ch',
       builtin='"".join({v}.split(" "))'),
    # --- slicing ---
    Op("text_reverse", "str_slicing", TEXTS, "same",
       ("reverse the text", "write the characters in reverse order", "turn the text back to front"),
       "{v}[::-1]", ("reverse_text", "backwards", "flipped_text"), "backwards",
       loop='{out} = ""\nfor ch in {v}:\n    {out} = ch + {out}',
       builtin='"".join(reversed({v}))', keeps_nonempty=True),
    Op("text_every_other", "str_slicing", TEXTS, "str",
       ("keep every second character, starting with the first (the characters at indexes 0, 2, 4, ...)",
        "take the characters at the even positions 0, 2, 4 and so on",
        "drop every character at an odd index, keeping the first, third, fifth and so on"),
       "{v}[::2]", ("every_other", "alternate"), "alternate",
       loop='{out} = ""\nfor i in range(0, len({v}), 2):\n    {out} += {v}[i]',
       keeps_nonempty=True),
    Op("text_first_n", "str_slicing", TEXTS, "str",
       ("keep only the first {arg} characters (the whole text if it is shorter)",
        "cut the text down to its first {arg} characters, or all of them when there are fewer",
        "take the opening {arg} characters of the text, or the whole text when it has fewer"),
       "{v}[:{arg}]", ("prefix", "head", "start_chars"), "head",
       loop='{out} = ""\nfor i in range(min({arg}, len({v}))):\n    {out} += {v}[i]',
       arg=HOW_MANY),
    Op("text_rotate_left", "str_slicing", ("str", "word"), "same",
       ("move the first character to the end (an empty text stays empty)",
        "rotate the text one place to the left, so its first character goes to the back",
        "take the first character off the front and put it at the end"),
       "{v}[1:] + {v}[:1]", ("rotated", "rotate"), "rotated",
       loop='{out} = ""\nfor i in range(1, len({v}) + 1):\n    {out} += {v}[i % len({v})]', keeps_nonempty=True),
    Op("text_drop_ends", "str_slicing", TEXTS, "str",
       ("remove the first and the last character (a text shorter than two characters becomes empty)",
        "cut one character off each end of the text, which leaves nothing of a text of two characters or fewer",
        "keep everything between the first and the last character, giving an empty string for texts of "
        "length 0, 1 or 2"),
       "{v}[1:-1]", ("inner", "middle", "trimmed"), "inner",
       loop='{out} = ""\nfor i in range(1, len({v}) - 1):\n    {out} += {v}[i]'),
    Op("text_first_letter", "str_slicing", ("word", "sentence"), "char",
       ("take the first character", "get the character at index 0", "pick out the opening letter"),
       "{v}[0]", ("first_letter", "initial"), "initial", nonempty=True, keeps_nonempty=True),
    Op("text_last_letter", "str_slicing", ("word", "sentence"), "char",
       ("take the last character", "get the character at index -1", "pick out the final letter"),
       "{v}[-1]", ("last_letter", "final_letter"), "final_letter",
       builtin="{v}[len({v}) - 1]", nonempty=True, keeps_nonempty=True),
    # --- building ---
    Op("text_double_chars", "str_building", TEXTS, "str",
       ("double each character, so that every character appears twice in a row",
        "write every character two times in succession", "repeat each character once more right after itself"),
       '"".join(ch * 2 for ch in {v})', ("doubled", "stutter"), "doubled",
       loop='{out} = ""\nfor ch in {v}:\n    {out} += ch + ch',
       builtin='"".join(map(lambda ch: ch * 2, {v}))', keeps_nonempty=True),
    Op("text_repeat", "str_building", ("word", "char"), "str",
       ("repeat the text {arg} times in a row (an empty string when it is 0)",
        "join {arg} copies of the text end to end, with nothing between them",
        "write the text out {arg} times one after the other, giving an empty string for 0"),
       "{v} * {arg}", ("repeated", "echo"), "repeated",
       loop='{out} = ""\nfor i in range({arg}):\n    {out} += {v}', builtin='"".join([{v}] * {arg})', arg=TIMES),
    Op("text_bracket", "str_building", TEXTS, "str",
       ("surround the text with square brackets, [ before it and ] after it",
        "put an opening square bracket in front of the text and a closing one after it",
        "wrap the text in square brackets"),
       '"[" + {v} + "]"', ("bracketed", "wrapped"), "bracketed",
       builtin='f"[{{{v}}}]"', keeps_nonempty=True),
    Op("text_dash_between", "str_building", TEXTS, "str",
       ("put a dash (-) between every two neighbouring characters",
        "join the characters with a dash (-) between each pair of neighbours",
        "insert a dash (-) between consecutive characters, with none at the start or the end"),
       '"-".join({v})', ("dashed_chars", "spelled"), "spelled",
       loop='{out} = ""\nfor i in range(len({v})):\n    if i > 0:\n        {out} += "-"\n    {out} += {v}[i]',
       keeps_nonempty=True),
    # --- splitting and joining ---
    Op("text_split_words", "str_split_join", ("str", "sentence"), "list[str]",
       ("split the text into a list of words at the spaces, ignoring extra spaces",
        "break the text into its words, where words are separated by one or more spaces",
        "cut the text at runs of whitespace into a list of words, with no empty words"),
       "{v}.split()", ("words", "split"), "words",
       loop="{out} = []\npart = \"\"\nfor ch in {v}:\n    if ch.isspace():\n        if part:\n"
            "            {out}.append(part)\n        part = \"\"\n    else:\n        part += ch\nif part:\n"
            "    {out}.append(part)"),
    Op("text_split_commas", "str_split_join", ("str",), "list[str]",
       ("split the text at every comma into a list of pieces (a text without commas gives a one-item list)",
        "cut the text into the pieces between commas, keeping empty pieces, so an empty text gives ['']",
        "break the text apart at each comma, keeping every piece including empty ones"),
       '{v}.split(",")', ("pieces", "fields", "split"), "fields",
       loop='{out} = [""]\nfor ch in {v}:\n    if ch == ",":\n        {out}.append("")\n    else:\n'
            '        {out}[-1] += ch', keeps_nonempty=True),
    Op("text_chars", "str_split_join", TEXTS, "list[str]",
       ("split the text into a list of its characters", "make a list holding each character of the text in order",
        "turn the text into a list of one-character strings"),
       "[ch for ch in {v}]", ("chars", "characters"), "chars",
       loop="{out} = []\nfor ch in {v}:\n    {out}.append(ch)", builtin="list({v})", keeps_nonempty=True),
    Op("text_word_lengths", "str_split_join", ("str", "sentence"), "list[int]",
       ("list the length of each word, where words are separated by spaces",
        "split the text into words and give the number of characters of each, in order",
        "measure every space-separated word, collecting the lengths in a list"),
       "[len(word) for word in {v}.split()]", ("word_lengths", "lengths"), "lengths",
       loop="{out} = []\nfor word in {v}.split():\n    {out}.append(len(word))",
       builtin="list(map(len, {v}.split()))"),
    Op("text_count_words", "str_split_join", ("str", "sentence"), "int",
       ("count the words, where words are separated by one or more spaces",
        "find how many space-separated words the text contains", "count the words in the text (0 when it is blank)"),
       "len({v}.split())", ("word_count", "count_words"), "word_count",
       loop="{out} = 0\nfor i in range(len({v})):\n    if not {v}[i].isspace() and (i == 0 or {v}[i - 1].isspace()):\n"
            "        {out} += 1"),
    Op("text_first_word", "str_split_join", ("sentence",), "word",
       ("take the first word", "get the word that comes first", "pick out the opening word"),
       "{v}.split()[0]", ("first_word", "opening"), "first_word",
       loop='{out} = ""\nfor ch in {v}:\n    if not ch.isspace():\n        {out} += ch\n    elif {out}:\n'
            '        break',
       builtin="{v}.split(maxsplit=1)[0]", nonempty=True, keeps_nonempty=True),
    Op("text_last_word", "str_split_join", ("sentence",), "word",
       ("take the last word", "get the word that comes last", "pick out the final word"),
       "{v}.split()[-1]", ("last_word", "final_word"), "last_word",
       loop='{out} = ""\nfor word in {v}.split():\n    {out} = word',
       builtin="{v}.rsplit(maxsplit=1)[-1]", nonempty=True, keeps_nonempty=True),
    Op("text_longest_word", "str_split_join", ("sentence",), "word",
       ("find the longest word, the first one if several are equally long",
        "pick the word with the most letters, taking the earliest one on a tie",
        "take the longest word, preferring the one that comes first when lengths are equal"),
       "max({v}.split(), key=len)", ("longest_word", "longest"), "longest",
       loop='{out} = ""\nfor word in {v}.split():\n    if len(word) > len({out}):\n        {out} = word',
       nonempty=True, keeps_nonempty=True),
    Op("text_acronym", "str_split_join", ("str", "sentence"), "str",
       ("build an acronym from the first character of each word, in uppercase",
        "join the uppercased first characters of the space-separated words",
        "make an abbreviation of the first character of every word, capitalized"),
       '"".join(word[0].upper() for word in {v}.split())', ("acronym", "initials"), "acronym",
       loop='{out} = ""\nfor word in {v}.split():\n    {out} += word[0].upper()',
       builtin='"".join(map(lambda word: word[0].upper(), {v}.split()))'),
    Op("words_join_spaces", "str_split_join", ("list[str]",), "str",
       ("join the words into one string with a single space between neighbours",
        "put the words together into a sentence, separated by spaces",
        "combine the words into one string, a space between each pair of them"),
       '" ".join({v})', ("joined", "sentence"), "joined",
       loop='{out} = ""\nfor i in range(len({v})):\n    if i > 0:\n        {out} += " "\n    {out} += {v}[i]'),
    Op("words_join_commas", "str_split_join", ("list[str]",), "str",
       ("join the words into one string with a comma and a space between neighbours",
        "list the words in one string, separated by \", \"",
        "combine the words into a single comma-separated string, a comma and a space between each pair"),
       '", ".join({v})', ("comma_joined", "csv", "listed"), "listed",
       loop='{out} = ""\nfor i in range(len({v})):\n    if i > 0:\n        {out} += ", "\n    {out} += {v}[i]'),
    Op("words_concat", "str_split_join", ("list[str]",), "str",
       ("concatenate the words into one string with nothing between them",
        "glue all the words together end to end", "join the words without any separator"),
       '"".join({v})', ("concatenated", "glued"), "glued",
       loop='{out} = ""\nfor word in {v}:\n    {out} += word'),
    Op("words_first_letters", "str_split_join", ("list[str]",), "str",
       ("join the first letters of the words into one string (an empty word adds nothing)",
        "take the first character of every word and put them together in order",
        "build a string from the initial character of each word"),
       '"".join(word[:1] for word in {v})', ("first_letters", "initials"), "initials",
       loop='{out} = ""\nfor word in {v}:\n    {out} += word[:1]',
       builtin='"".join(map(lambda word: word[:1], {v}))'),
    # --- the order of words ---
    Op("text_reverse_words", "str_word_order", ("sentence", "str"), "same",
       ("reverse the order of the words, joining them with single spaces",
        "write the words from last to first, separated by one space each",
        "put the space-separated words in reverse order, keeping each word's letters as they are"),
       '" ".join({v}.split()[::-1])', ("reversed_words", "words_backwards"), "flipped",
       loop='{out} = ""\nfor word in {v}.split():\n    if {out}:\n        {out} = word + " " + {out}\n'
            '    else:\n        {out} = word',
       builtin='" ".join(reversed({v}.split()))', keeps_nonempty=False),
    Op("text_reverse_each_word", "str_word_order", ("sentence", "str"), "same",
       ("reverse the letters of each word while keeping the words and spaces in place",
        "spell every space-separated word backwards, leaving the order of the words alone",
        "turn each word back to front without moving the words or the spaces"),
       '" ".join(word[::-1] for word in {v}.split(" "))', ("reversed_each", "mirrored_words"), "mirrored",
       loop='{out} = ""\npart = ""\nfor ch in {v} + " ":\n    if ch == " ":\n        {out} += part + " "\n'
            '        part = ""\n    else:\n        part = ch + part\n{out} = {out}[:-1]',
       builtin='" ".join(map(lambda word: word[::-1], {v}.split(" ")))', keeps_nonempty=True),
    Op("text_sort_words", "str_word_order", ("sentence",), "same",
       ("sort the words alphabetically and join them with single spaces",
        "put the words in alphabetical order, separated by one space each",
        "rearrange the space-separated words into alphabetical order"),
       '" ".join(sorted({v}.split()))', ("sorted_words", "alphabetized"), "alphabetized",
       keeps_nonempty=True),
    # --- searching ---
    Op("text_first_vowel_index", "str_search", TEXTS, "int",
       ("find the index of the first vowel (a, e, i, o or u, in either case), or -1 if there is none",
        "give the position of the earliest vowel, counting from 0, or -1 when the text has no vowel",
        "search for the first vowel of either case and return its index, -1 if no vowel occurs"),
       'next((i for i in range(len({v})) if {v}[i] in "aeiouAEIOU"), -1)', ("first_vowel", "vowel_index"),
       "vowel_index",
       loop='{out} = -1\nfor i in range(len({v})):\n    if {v}[i] in "aeiouAEIOU":\n        {out} = i\n'
            '        break'),
    Op("text_find_char", "str_search", ("word", "sentence"), "int",
       ("find the index of the first {arg}, or -1 if it does not occur",
        "give the position of the earliest {arg}, counting from 0, or -1 when it is missing",
        "search for {arg} from the left and return where it first appears, -1 if nowhere"),
       "{v}.find({arg})", ("position", "index_of", "find"), "position",
       loop="{out} = -1\nfor i in range(len({v})):\n    if {v}[i] == {arg}:\n        {out} = i\n        break",
       builtin="next((i for i, ch in enumerate({v}) if ch == {arg}), -1)", arg=LETTER),
    Op("text_find_last_char", "str_search", ("word", "sentence"), "int",
       ("find the index of the last {arg}, or -1 if it does not occur",
        "give the position of the final occurrence of {arg}, or -1 when it is missing",
        "search for the rightmost {arg} and return its index, -1 if there is none"),
       "{v}.rfind({arg})", ("last_position", "rfind"), "last_position",
       loop="{out} = -1\nfor i in range(len({v})):\n    if {v}[i] == {arg}:\n        {out} = i",
       builtin="max([i for i, ch in enumerate({v}) if ch == {arg}], default=-1)", arg=LETTER),
    Op("text_contains_char", "str_search", ("word", "sentence"), "bool",
       ("check whether {arg} occurs in the text", "tell whether the text contains {arg}",
        "decide if {arg} appears anywhere in the text"),
       "{arg} in {v}", ("contains", "has_char"), "found",
       loop="{out} = False\nfor ch in {v}:\n    if ch == {arg}:\n        {out} = True\n        break",
       builtin="any(ch == {arg} for ch in {v})", arg=LETTER),
    Op("text_first_digit_index", "str_search", ("str",), "int",
       ("find the index of the first digit, or -1 if there is none",
        "give the position of the earliest character from 0 to 9, counting from 0, or -1 when there is no digit",
        "search for the first digit and return its index, -1 if the text has no digit"),
       "next((i for i in range(len({v})) if {v}[i].isdigit()), -1)", ("first_digit", "digit_index"),
       "digit_index",
       loop="{out} = -1\nfor i in range(len({v})):\n    if {v}[i].isdigit():\n        {out} = i\n        break",
       builtin="next((i for i, ch in enumerate({v}) if ch.isdigit()), -1)"),
    Op("text_first_repeated", "str_search", TEXTS, "str",
       ("find the first character that appears a second time when reading from left to right, or an empty "
        "string if no character repeats",
        "return the earliest character that was already seen before it, or \"\" when all characters differ",
        "scan the text and stop at the first character met for the second time, giving \"\" if there is none"),
       'next(({v}[i] for i in range(len({v})) if {v}[i] in {v}[:i]), "")', ("first_repeat", "repeated_char"),
       "repeat_char",
       loop='{out} = ""\nseen = set()\nfor ch in {v}:\n    if ch in seen:\n        {out} = ch\n        break\n'
            '    seen.add(ch)'),
    Op("char_is_vowel", "str_search", ("char",), "bool",
       ("check whether the letter is a vowel (a, e, i, o or u)", "tell whether the character is one of a, e, i, o, u",
        "decide if the letter is a lowercase vowel"),
       '{v} in "aeiou"', ("is_vowel", "vowel"), "is_vowel"),
    # --- counting ---
    Op("text_count_vowels", "str_counting", TEXTS, "int",
       ("count the vowels (a, e, i, o and u, in either case)",
        "find how many characters are vowels, uppercase or lowercase",
        "count the letters a, e, i, o and u, both small and capital"),
       'sum(1 for ch in {v} if ch in "aeiouAEIOU")', ("vowel_count", "vowels"), "vowel_count",
       loop='{out} = 0\nfor ch in {v}:\n    if ch in "aeiouAEIOU":\n        {out} += 1',
       builtin='len(list(filter(lambda ch: ch in "aeiouAEIOU", {v})))'),
    Op("text_count_char", "str_counting", ("word", "sentence"), "int",
       ("count how many times {arg} occurs", "find the number of characters equal to {arg}",
        "count the occurrences of {arg} in the text"),
       "sum(1 for ch in {v} if ch == {arg})", ("occurrences", "char_count"), "occurrences",
       loop="{out} = 0\nfor ch in {v}:\n    if ch == {arg}:\n        {out} += 1",
       builtin="{v}.count({arg})", arg=LETTER),
    Op("text_distinct_chars", "str_counting", TEXTS, "int",
       ("count the distinct characters, each different character once",
        "find how many different characters the text uses",
        "count the characters without counting repeats"),
       "len(set({v}))", ("distinct", "unique_chars"), "distinct",
       loop="{out} = 0\nfor i in range(len({v})):\n    if {v}[i] not in {v}[:i]:\n        {out} += 1",
       builtin="len(dict.fromkeys({v}))"),
    Op("text_letter_counts", "str_counting", ("str", "word"), "dict[str, int]",
       ("count how many times each letter occurs, in a dictionary from letter to count (capitals and small "
        "letters counted apart, other characters skipped)",
        "build a dictionary mapping each letter to the number of times it appears, keeping the letters in the "
        "order they first occur and ignoring characters that are not letters",
        "tally the letters case-sensitively into a dictionary from each letter to its count, skipping "
        "non-letters"),
       "{{ch: {v}.count(ch) for ch in {v} if ch.isalpha()}}", ("letter_counts", "frequencies"), "freq",
       loop="{out} = {{}}\nfor ch in {v}:\n    if ch.isalpha():\n        {out}[ch] = {out}.get(ch, 0) + 1",
       builtin="dict((ch, {v}.count(ch)) for ch in {v} if ch.isalpha())"),
    Op("text_most_common_char", "str_counting", TEXTS, "str",
       ("find the character that occurs most often, the one that comes first in the text on a tie",
        "pick the most frequent character, preferring the earliest one when counts are equal",
        "return the character with the highest count, taking the first such character in the text"),
       "max({v}, key={v}.count)", ("most_common", "commonest"), "commonest",
       loop="{out} = {v}[0]\nfor ch in {v}:\n    if {v}.count(ch) > {v}.count({out}):\n        {out} = ch",
       nonempty=True, keeps_nonempty=True),
    # --- palindromes ---
    Op("text_is_palindrome", "str_palindromes", TEXTS, "bool",
       ("check whether the text reads the same backwards as forwards",
        "tell whether the text is a palindrome, character for character (an empty text is one)",
        "decide if reversing the text leaves it unchanged"),
       "{v} == {v}[::-1]", ("is_palindrome", "palindrome"), "is_pal",
       loop="{out} = True\nfor i in range(len({v}) // 2):\n    if {v}[i] != {v}[len({v}) - 1 - i]:\n"
            "        {out} = False\n        break",
       builtin="list({v}) == list(reversed({v}))"),
    Op("text_is_loose_palindrome", "str_palindromes", ("str", "sentence"), "bool",
       ("check whether the text is a palindrome when only letters and digits count and case is ignored",
        "tell whether the letters and digits, lowered, read the same in both directions, skipping spaces and "
        "punctuation",
        "decide if the text is a palindrome once spaces and punctuation are dropped and capitals are lowered"),
       "[ch.lower() for ch in {v} if ch.isalnum()] == [ch.lower() for ch in {v} if ch.isalnum()][::-1]",
       ("loose_palindrome", "palindrome"), "is_pal",
       loop="{out} = True\nleft = 0\nright = len({v}) - 1\nwhile left < right:\n    if not {v}[left].isalnum():\n"
            "        left += 1\n    elif not {v}[right].isalnum():\n        right -= 1\n"
            "    elif {v}[left].lower() != {v}[right].lower():\n        {out} = False\n        break\n"
            "    else:\n        left += 1\n        right -= 1",
       builtin='"".join(filter(str.isalnum, {v})).lower() == "".join(filter(str.isalnum, {v})).lower()[::-1]'),
    Op("text_mirror", "str_palindromes", TEXTS, "same",
       ("append the reversed text to the text, making a palindrome",
        "follow the text with its own reverse", "glue the text and its reverse together, the text first"),
       "{v} + {v}[::-1]", ("mirrored", "palindromic"), "mirrored",
       loop="{out} = {v}\nfor i in range(len({v}) - 1, -1, -1):\n    {out} += {v}[i]",
       builtin='{v} + "".join(reversed({v}))', keeps_nonempty=True),
    Op("words_count_palindromes", "str_palindromes", ("list[str]",), "int",
       ("count the words that are palindromes", "find how many words read the same backwards",
        "count the words equal to their own reverse"),
       "sum(1 for word in {v} if word == word[::-1])", ("palindrome_count", "palindromes"), "pal_count",
       loop="{out} = 0\nfor word in {v}:\n    if word == word[::-1]:\n        {out} += 1",
       builtin="len(list(filter(lambda word: word == word[::-1], {v})))"),
    Op("words_keep_palindromes", "str_palindromes", ("list[str]",), "same",
       ("keep only the words that are palindromes", "drop every word that does not read the same backwards",
        "select the words equal to their own reverse"),
       "[word for word in {v} if word == word[::-1]]", ("palindromes", "symmetric"), "palindromes",
       loop="{out} = []\nfor word in {v}:\n    if word == word[::-1]:\n        {out}.append(word)",
       builtin="list(filter(lambda word: word == word[::-1], {v}))"),
    # --- character codes ---
    Op("text_char_codes", "str_codes", ("str", "word"), "list[int]",
       ("list the character code of every character, as given by ord",
        "turn each character into its integer code with ord", "replace every character by its code point"),
       "[ord(ch) for ch in {v}]", ("codes", "char_codes"), "codes",
       loop="{out} = []\nfor ch in {v}:\n    {out}.append(ord(ch))", builtin="list(map(ord, {v}))",
       keeps_nonempty=True),
    Op("text_code_sum", "str_codes", TEXTS, "int",
       ("add up the character codes (ord) of all the characters, 0 for an empty text",
        "compute the sum of ord over every character", "total the code points of the characters"),
       "sum(ord(ch) for ch in {v})", ("code_sum", "checksum"), "code_total",
       loop="{out} = 0\nfor ch in {v}:\n    {out} += ord(ch)", builtin="sum(map(ord, {v}))"),
    Op("char_code", "str_codes", ("char",), "int",
       ("give the character's code, as ord gives it", "turn the character into its integer code",
        "find the code point of the character"),
       "ord({v})", ("code", "char_code"), "code"),
    Op("char_alphabet_position", "str_codes", ("char",), "int",
       ("give the letter's position in the alphabet, counting a as 1 and z as 26",
        "find where the lowercase letter stands in the alphabet, starting from 1 for a",
        "turn the letter into its place in the alphabet, 1 to 26"),
       'ord({v}) - ord("a") + 1', ("position", "alphabet_index"), "place",
       builtin='"abcdefghijklmnopqrstuvwxyz".index({v}) + 1'),
    Op("char_next_letter", "str_codes", ("char",), "same",
       ("give the next letter of the alphabet, with z wrapping around to a",
        "move the letter one place forward in the alphabet, z becoming a",
        "find the letter that follows it in the alphabet, where a follows z"),
       'chr((ord({v}) - ord("a") + 1) % 26 + ord("a"))', ("next_letter", "successor"), "next_letter"),
    Op("text_caesar_one", "str_codes", ("word", "sentence"), "same",
       ("shift every letter one place forward in the alphabet (z wraps around to a), leaving spaces as they are",
        "replace each letter by the one after it in the alphabet, a after z, and keep the spaces",
        "encode the text with a Caesar shift of 1: each letter moves one step forward, z becomes a, spaces stay"),
       '"".join(chr((ord(ch) - ord("a") + 1) % 26 + ord("a")) if ch.isalpha() else ch for ch in {v})',
       ("shifted", "caesar", "encoded"), "shifted",
       loop='{out} = ""\nfor ch in {v}:\n    if ch.isalpha():\n        {out} += chr((ord(ch) - ord("a") + 1) % 26 + '
            'ord("a"))\n    else:\n        {out} += ch', keeps_nonempty=True),
    Op("text_caesar_shift", "str_codes", ("word", "sentence"), "same",
       ("shift every letter {arg} places forward in the alphabet, wrapping around after z (a negative shift "
        "moves backward), and leave the spaces as they are",
        "encode the text with a Caesar cipher that moves each letter {arg} places, wrapping around the alphabet "
        "and leaving spaces unchanged",
        "move each letter {arg} steps along the alphabet modulo 26 (backward when negative), keeping spaces"),
       '"".join(chr((ord(ch) - ord("a") + {arg}) % 26 + ord("a")) if ch.isalpha() else ch for ch in {v})',
       ("ciphered", "caesar", "encrypted"), "ciphered",
       loop='{out} = ""\nfor ch in {v}:\n    if ch.isalpha():\n'
            '        {out} += chr((ord(ch) - ord("a") + {arg}) % 26 + ord("a"))\n    else:\n        {out} += ch',
       arg=SHIFT, keeps_nonempty=True),
    # --- every word of a list ---
    Op("words_upper", "words_maps", ("list[str]",), "same",
       ("convert each word to uppercase", "make every word all capitals", "uppercase every string in the list"),
       "[word.upper() for word in {v}]", ("upper", "shouted"), "shouted",
       loop="{out} = []\nfor word in {v}:\n    {out}.append(word.upper())", builtin="list(map(str.upper, {v}))",
       keeps_nonempty=True),
    Op("words_capitalize", "words_maps", ("list[str]",), "same",
       ("capitalize each word: a capital first letter and lowercase after it",
        "make every word start with an uppercase letter followed by lowercase ones",
        "apply capitalize to each string in the list"),
       "[word.capitalize() for word in {v}]", ("capitalized", "proper"), "proper",
       loop="{out} = []\nfor word in {v}:\n    {out}.append(word.capitalize())",
       builtin="list(map(str.capitalize, {v}))", keeps_nonempty=True),
    Op("words_reverse_each", "words_maps", ("list[str]",), "same",
       ("reverse each word, keeping the words in their order", "spell every word backwards",
        "turn each string in the list back to front, without reordering the list"),
       "[word[::-1] for word in {v}]", ("backwards", "each_reversed"), "backwards",
       loop="{out} = []\nfor word in {v}:\n    {out}.append(word[::-1])",
       builtin="list(map(lambda word: word[::-1], {v}))", keeps_nonempty=True),
    Op("words_lengths", "words_maps", ("list[str]",), "list[int]",
       ("replace each word by its length", "list the number of characters of every word, in order",
        "measure each word, giving a list of lengths"),
       "[len(word) for word in {v}]", ("lengths", "sizes"), "lengths",
       loop="{out} = []\nfor word in {v}:\n    {out}.append(len(word))", builtin="list(map(len, {v}))",
       keeps_nonempty=True),
    # --- filtering words ---
    Op("words_longer_than", "words_filters", ("list[str]",), "same",
       ("keep only the words longer than {arg} characters", "drop every word of {arg} characters or fewer",
        "select the words whose length is greater than {arg}"),
       "[word for word in {v} if len(word) > {arg}]", ("long_words", "longer"), "long_words",
       loop="{out} = []\nfor word in {v}:\n    if len(word) > {arg}:\n        {out}.append(word)",
       builtin="list(filter(lambda word: len(word) > {arg}, {v}))", arg=MIN_LEN),
    Op("words_starting_with", "words_filters", ("list[str]",), "same",
       ("keep only the words that start with {arg}", "drop every word whose first character is not {arg}",
        "select the words beginning with {arg}"),
       "[word for word in {v} if word.startswith({arg})]", ("starting", "matching"), "matching",
       loop="{out} = []\nfor word in {v}:\n    if word[:1] == {arg}:\n        {out}.append(word)",
       builtin="list(filter(lambda word: word.startswith({arg}), {v}))", arg=LETTER),
    Op("words_containing", "words_filters", ("list[str]",), "same",
       ("keep only the words that contain {arg}", "drop every word in which {arg} does not appear",
        "select the words with at least one {arg} in them"),
       "[word for word in {v} if {arg} in word]", ("containing", "with_char"), "hits",
       loop="{out} = []\nfor word in {v}:\n    if {arg} in word:\n        {out}.append(word)",
       builtin="list(filter(lambda word: {arg} in word, {v}))", arg=LETTER),
    Op("words_shorter_than", "words_filters", ("list[str]",), "same",
       ("keep only the words shorter than {arg} characters", "drop every word of {arg} characters or more",
        "select the words whose length is less than {arg}"),
       "[word for word in {v} if len(word) < {arg}]", ("short_words", "shorter"), "short_words",
       loop="{out} = []\nfor word in {v}:\n    if len(word) < {arg}:\n        {out}.append(word)",
       builtin="list(filter(lambda word: len(word) < {arg}, {v}))", arg=MAX_LEN),
    Op("words_vowel_start", "words_filters", ("list[str]",), "same",
       ("keep only the words that begin with a vowel (a, e, i, o or u, in either case)",
        "drop every word whose first character is not a vowel of either case",
        "select the words starting with a, e, i, o or u, lowercase or uppercase"),
       '[word for word in {v} if word[:1].lower() in ("a", "e", "i", "o", "u")]', ("vowel_words", "vowel_start"),
       "vowel_words",
       loop='{out} = []\nfor word in {v}:\n    if word != "" and word[0] in "aeiouAEIOU":\n'
            '        {out}.append(word)',
       builtin='list(filter(lambda word: word != "" and word[0] in "aeiouAEIOU", {v}))'),
    # --- sorting words ---
    Op("words_sort", "words_sorting", ("list[str]",), "same",
       ("sort the words alphabetically", "put the words in alphabetical order",
        "arrange the words in ascending alphabetical order"),
       "sorted({v})", ("alphabetical", "in_order"), "ordered",
       loop="{out} = []\nfor word in {v}:\n    i = 0\n    while i < len({out}) and {out}[i] <= word:\n        i += 1\n"
            "    {out}.insert(i, word)",
       keeps_nonempty=True),
    Op("words_sort_desc", "words_sorting", ("list[str]",), "same",
       ("sort the words in reverse alphabetical order", "put the words in descending alphabetical order",
        "arrange the words from the last alphabetically to the first"),
       "sorted({v}, reverse=True)", ("reverse_sorted", "descending"), "descending",
       loop="{out} = []\nfor word in {v}:\n    i = 0\n    while i < len({out}) and {out}[i] >= word:\n        i += 1\n"
            "    {out}.insert(i, word)",
       builtin="sorted({v})[::-1]", keeps_nonempty=True),
    Op("words_sort_by_length", "words_sorting", ("list[str]",), "same",
       ("sort the words by length, shortest first, and alphabetically among words of equal length",
        "order the words from shortest to longest, breaking ties in alphabetical order",
        "arrange the words by increasing length, equally long words in alphabetical order"),
       "sorted({v}, key=lambda word: (len(word), word))", ("by_length", "sorted_by_length"), "by_length",
       loop="{out} = []\nfor word in {v}:\n    i = 0\n    while i < len({out}) and (len({out}[i]), {out}[i]) <= "
            "(len(word), word):\n        i += 1\n    {out}.insert(i, word)",
       builtin="sorted(sorted({v}), key=len)", keeps_nonempty=True),
    Op("words_first_alphabetically", "words_sorting", ("list[str]",), "str",
       ("find the word that comes first alphabetically", "pick the alphabetically smallest word",
        "take the word that would be first in a dictionary"),
       "min({v})", ("first_alpha", "earliest"), "earliest",
       loop="{out} = {v}[0]\nfor word in {v}:\n    if word < {out}:\n        {out} = word",
       builtin="sorted({v})[0]", nonempty=True),
    Op("words_last_alphabetically", "words_sorting", ("list[str]",), "str",
       ("find the word that comes last alphabetically", "pick the alphabetically largest word",
        "take the word that would be last in a dictionary"),
       "max({v})", ("last_alpha", "latest"), "latest",
       loop="{out} = {v}[0]\nfor word in {v}:\n    if word > {out}:\n        {out} = word",
       builtin="sorted({v})[-1]", nonempty=True),
    # --- word statistics ---
    Op("words_counts", "words_stats", ("list[str]",), "dict[str, int]",
       ("count how many times each word occurs, in a dictionary from word to count",
        "build a dictionary mapping each distinct word to its number of occurrences, in order of first "
        "appearance",
        "tally the words into a dictionary from each word to how often it appears"),
       "{{word: {v}.count(word) for word in {v}}}", ("word_counts", "tally"), "tally",
       loop="{out} = {{}}\nfor word in {v}:\n    {out}[word] = {out}.get(word, 0) + 1",
       builtin="dict((word, {v}.count(word)) for word in {v})"),
    Op("text_word_counts", "words_stats", ("sentence",), "dict[str, int]",
       ("count how many times each word occurs, in a dictionary from word to count",
        "build a dictionary mapping each distinct word of the sentence to its number of occurrences",
        "tally the space-separated words into a dictionary from each word to how often it appears"),
       "{{word: {v}.split().count(word) for word in {v}.split()}}", ("word_counts", "tally"), "tally",
       loop="{out} = {{}}\nfor word in {v}.split():\n    {out}[word] = {out}.get(word, 0) + 1",
       builtin="dict((word, {v}.split().count(word)) for word in {v}.split())"),
    Op("words_total_length", "words_stats", ("list[str]",), "int",
       ("add up the lengths of all the words", "count the characters of all the words together",
        "find the total number of characters in the words, 0 for no words"),
       "sum(len(word) for word in {v})", ("total_length", "char_total"), "char_total",
       loop="{out} = 0\nfor word in {v}:\n    {out} += len(word)", builtin="sum(map(len, {v}))"),
    Op("words_count_even", "words_stats", ("list[str]",), "int",
       ("count the words with an even number of characters",
        "find how many words have an even length", "count the words whose length is divisible by 2"),
       "sum(1 for word in {v} if len(word) % 2 == 0)", ("even_words", "even_count"), "even_count",
       loop="{out} = 0\nfor word in {v}:\n    if len(word) % 2 == 0:\n        {out} += 1",
       builtin="len(list(filter(lambda word: len(word) % 2 == 0, {v})))"),
    Op("words_longest", "words_stats", ("list[str]",), "str",
       ("find the longest word, the first one if several are equally long",
        "pick the word with the most characters, taking the earliest on a tie",
        "take the longest word, preferring the one that comes first among equals"),
       "max({v}, key=len)", ("longest", "longest_word"), "longest",
       loop="{out} = {v}[0]\nfor word in {v}:\n    if len(word) > len({out}):\n        {out} = word",
       builtin="sorted({v}, key=len, reverse=True)[0]", nonempty=True),
    Op("words_shortest", "words_stats", ("list[str]",), "str",
       ("find the shortest word, the first one if several are equally short",
        "pick the word with the fewest characters, taking the earliest on a tie",
        "take the shortest word, preferring the one that comes first among equals"),
       "min({v}, key=len)", ("shortest", "shortest_word"), "shortest",
       loop="{out} = {v}[0]\nfor word in {v}:\n    if len(word) < len({out}):\n        {out} = word",
       builtin="sorted({v}, key=len)[0]", nonempty=True),
)
