"""Preparing the training data: `mix` (CodeTextbook, paper §2), `tokenizer` (a byte-level BPE) and
`pack` (documents joined by <|endoftext|> in fixed-length token rows, paper §2.3)."""
