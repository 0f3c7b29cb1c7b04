"""Decontamination: compare training records with benchmark problems (PAPER.md §5).

`ngram` counts shared 13-grams of normalized tokens; `astmatch` scores the edit distance between
normalized syntax trees (the paper's AST match rate tau).
"""
