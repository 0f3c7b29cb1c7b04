"""pass@k: the chance that at least one of k samples passes, estimated without bias from n >= k.

With c of n samples correct, pass@k = 1 - C(n - c, k) / C(n, k) (Chen et al. 2021, the estimator
phi-1's HumanEval and MBPP numbers use, paper Table 1). The ratio of binomials is computed as a
product so that n in the hundreds does not overflow floats.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one problem with `c` correct among `n` samples."""
    if not 0 <= c <= n:
        raise ValueError(f"correct samples c={c} must be between 0 and n={n}")
    if k < 1 or k > n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n samples per problem (n={n})")
    if n - c < k:
        return 1.0  # every draw of k samples holds a correct one
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def mean_pass_at_k(counts: Mapping[str, Sequence[int]], ks: Iterable[int]) -> dict[str, float]:
    """pass@k averaged over problems, from each problem's (n, c), for every k that n allows."""
    pairs = list(counts.values())
    if not pairs:
        raise ValueError("no problems to score")
    smallest_n = min(n for n, _ in pairs)
    return {f"pass@{k}": sum(pass_at_k(n, c, k) for n, c in pairs) / len(pairs)
            for k in ks if k <= smallest_n}
