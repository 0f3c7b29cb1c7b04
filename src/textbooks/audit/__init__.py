"""Diversity and redundancy measures of a dataset (paper §2: the paper names the lack of a way to
measure them as an open problem).

- `measures`: the figures (token counts, a reproducible sample, duplicate rates, distinct n-gram
  ratios, embedding clusters, most similar pairs, constraint histograms);
- `plots`: their PNGs;
- `cli`: the `textbooks audit` stage that computes them over a dataset directory.
"""
