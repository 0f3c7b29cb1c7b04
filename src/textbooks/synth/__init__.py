"""Synthetic data (paper §2.2): textbook passages and exercises written by a teacher, or mined offline.

- `sampler`: the diversity sampler: the constraints of each prompt (topic x audience x style for
  textbooks, topic x difficulty x function name and signature for exercises) and its templates.
- `exercises`: a reply turned into an exercise record (signature, docstring, solution, asserts),
  kept only if its solution passes its asserts in the sandbox; the others go to rejects.
- `passages`: a reply turned into a textbook passage, each of its python blocks run in the sandbox.
- `mined`: offline, the same records come from real local code and documentation (documented
  functions with doctest examples, verified the same way), never from text written here.
- `cli`: the synth stage, `textbooks synth KIND`.
"""
