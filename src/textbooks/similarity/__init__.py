"""How alike two texts are, for the stages that need it: exact and near duplicates (`dedup`),
embeddings (`embeddings`), shared n-grams (`ngram`) and the AST match rate (`astmatch`)."""
