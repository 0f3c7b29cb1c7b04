"""Decontamination: compare training records with benchmark problems (paper §5) by shared 13-grams,
embedding distance and the AST match rate (textbooks.similarity), and prune the similar ones."""
