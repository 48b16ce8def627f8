#!/usr/bin/python3
"""Reference values for tests/test_stats.c, from statsmodels, scipy and numpy.

eef's comparison statistics (src/eval/stats.c, docs/statistics.md) checked
against implementations that share nothing with them, least of all the RNG:

  wilson    k n lo hi           statsmodels proportion_confint(method='wilson')
  quantile  n v... K q1 want1 .. numpy.percentile (linear, numpy's default)
  mcnemar   b c p               statsmodels mcnemar(exact=True), checked here
                                equal to scipy.stats.binomtest
  pooled    S b1 c1 .. p p1 ..  the pooled exact test: every seed's discordant
                                tasks together (binomtest), and per seed
  exact     S a1 b1 .. K d1 p1 .. dK pK lo hi
                                the bootstrap distribution of the pooled
                                difference, by enumerating every resample
                                (n^n per stratum), and its 2.5% / 97.5%
                                quantiles: what the percentile interval is as
                                resamples -> infinity
  boot      name S a1 b1 .. poi reps lo hi tol poi_lo poi_hi poi_tol
                                poi: rliable's probability of improvement, per
                                stratum the Mann-Whitney U (scipy) / (n n),
                                averaged over strata; then
                                the stratified paired bootstrap by numpy with
                                reps = 200,000, and the tolerance a C run of
                                10,000 resamples must meet (below)
  score     n r1 .. rn lo hi reps tol tol_summary
                                eval.c's score interval (the percentile
                                bootstrap of the mean reward x 100) against
                                numpy's 200,000 resamples: eef_score_interval
                                with `reps` resamples within tol, a summary's
                                (1,000 resamples) within tol_summary

Outcome strings a_s, b_s are '0'/'1' per test task of stratum s (seed s),
the same tasks for A and B.

Tolerance of a Monte-Carlo quantile: the q-quantile of B resamples has a
standard error of sqrt(q (1 - q) / B) / f(x_q), f the density of the
bootstrap distribution there (taken as normal: phi(z_q) / sd); the C value
(B_C) and the reference (B_ref) both carry one, so the two may differ by
4 sqrt(se_C^2 + se_ref^2) (4 sigma: a false alarm about once in 16,000 per
endpoint), plus one step of the distribution's lattice (differences move in
steps of 1/N; the interpolation between order statistics can land inside a
step).

Run:  /usr/bin/python3 tests/ref/make_stats_ref.py   (Debian's python3-scipy,
python3-statsmodels, python3-numpy; not needed by `make test`: the fixture
tests/fixtures/stats/ref.txt is committed).
"""
import itertools
import math
import os
import sys
from fractions import Fraction

import numpy as np
import scipy.stats as st
from statsmodels.stats.contingency_tables import StratifiedTable, mcnemar
from statsmodels.stats.proportion import proportion_confint

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "stats", "ref.txt")
LEVEL = 0.95
QS = ((1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2)
B_C = 10000        # resamples of the C run the 'boot' tolerances are for
B_C_SCORE = 1000   # eval.c's score bootstrap in a summary
B_C_SCORE_FN = 100000  # eef_score_interval run by the test
B_REF = 200000

lines = ["eef-stats-ref 1"]


def g(x):
    return repr(float(x))


def bits(v):
    return "".join("1" if x else "0" for x in v)


# ---------------------------------------------------------------- wilson
for n in (1, 2, 5, 10, 40, 100, 1500, 4500):
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        lo, hi = proportion_confint(k, n, alpha=1 - LEVEL, method="wilson")
        lines.append(f"wilson {k} {n} {g(lo)} {g(hi)}")

# ---------------------------------------------------------------- quantile
rng = np.random.default_rng(20250521)
arrays = [np.array([1.0, 2, 3, 4]), np.array([5.0]), np.array([0.0, 0, 0, 1, 1, 2]),
          np.sort(rng.normal(size=37)), np.sort(rng.integers(-5, 5, size=200) / 8.0)]
for v in arrays:
    qs = (0.0, 0.025, 0.25, 0.5, 0.975, 1.0)
    lines.append(f"quantile {len(v)} " + " ".join(g(x) for x in v) + f" {len(qs)} "
                 + " ".join(f"{g(q)} {g(np.percentile(v, 100 * q))}" for q in qs))

# ---------------------------------------------------------------- mcnemar
cases = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 5), (5, 2), (10, 0), (0, 25), (59, 81), (81, 59),
         (100, 100), (101, 100), (270, 207), (17, 102), (500, 450), (1000, 900), (2000, 2100),
         (1500, 1400), (3000, 0), (40, 0)]
for b, c in cases:
    p = mcnemar([[7, b], [c, 3]], exact=True).pvalue
    if b + c:
        p2 = st.binomtest(b, b + c, 0.5).pvalue
        assert abs(p - p2) <= 1e-12 * max(p, 1e-300) + 1e-300, (b, c, p, p2)
    lines.append(f"mcnemar {b} {c} {g(p)}")

# ---------------------------------------------------------------- pooled
# The pooled test is McNemar's exact test on all seeds' discordant tasks:
# the exact conditional test of matched pairs, each task its own stratum.
# Two checks that it is that test:
# (1) statsmodels' Cochran-Mantel-Haenszel statistic over one 2x2 table per
#     task (rows A, B; columns win, loss) equals McNemar's (b - c)^2 / (b + c);
# (2) enumerating every sign flip of the discordant tasks (the paired
#     permutation test) gives binomtest's p-value.
def task_tables(strata):
    t = []
    for b, c in strata:
        t += [[[1, 0], [0, 1]]] * b + [[[0, 1], [1, 0]]] * c
        t += [[[1, 0], [1, 0]], [[0, 1], [0, 1]]]  # concordant: no information
    return np.array(t, dtype=float).transpose(1, 2, 0)


for strata in ([(3, 1), (2, 4)], [(4, 2), (1, 3), (2, 2)]):
    b = sum(x for x, _ in strata)
    c = sum(y for _, y in strata)
    cmh = StratifiedTable(task_tables(strata)).test_null_odds(correction=False).statistic
    assert abs(cmh - (b - c) ** 2 / (b + c)) < 1e-9, (cmh, b, c)
    obs, hits, total = abs(b - c), 0, 0
    for signs in itertools.product((1, -1), repeat=b + c):
        total += 1
        hits += abs(sum(signs)) >= obs
    assert abs(hits / total - st.binomtest(b, b + c, 0.5).pvalue) < 1e-12

for strata in ([(59, 81)], [(59, 81), (30, 20), (12, 40)], [(5, 0), (0, 5)],
               [(200, 150), (180, 160), (210, 140)], [(0, 0), (3, 9)]):
    b = sum(x for x, _ in strata)
    c = sum(y for _, y in strata)
    p = st.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    per = [st.binomtest(x, x + y, 0.5).pvalue if x + y else 1.0 for x, y in strata]
    lines.append(f"pooled {len(strata)} " + " ".join(f"{x} {y}" for x, y in strata) + f" {g(p)} "
                 + " ".join(g(q) for q in per))


# ---------------------------------------------------------------- data sets
def dataset(kind, sizes, seed):
    r = np.random.default_rng(seed)
    out = []
    for s, n in enumerate(sizes):
        if kind == "independent":
            a = r.random(n) < 0.50
            b = r.random(n) < 0.45
        elif kind == "paired":  # B is A with 10% of the outcomes flipped
            a = r.random(n) < 0.5
            b = a ^ (r.random(n) < 0.10)
        else:  # "strata": the seeds disagree on which method is better
            pa, pb = [(0.8, 0.2), (0.2, 0.8), (0.5, 0.5)][s % 3]
            u = r.random(n)
            a = u < pa
            b = (u < pb) ^ (r.random(n) < 0.2)
        out.append((a.astype(np.int8), b.astype(np.int8)))
    return out


def poi(strata):
    v = []
    for a, b in strata:
        if np.array_equal(a, b):
            v.append(0.5)
        else:
            u = st.mannwhitneyu(a, b, alternative="greater").statistic
            v.append(u / (len(a) * len(b)))
    return float(np.mean(v))


def strata_tokens(strata):
    return f"{len(strata)} " + " ".join(f"{bits(a)} {bits(b)}" for a, b in strata)


sets = {
    "independent": dataset("independent", [300, 300, 300], 1),
    "paired": dataset("paired", [300, 300, 300], 2),
    "strata": dataset("strata", [300, 200, 100], 3),
    "one_seed": dataset("independent", [500], 4),
}


# ---------------------------------------------------------------- exact
def exact_distribution(strata):
    """P(sum of resampled differences = k), every resample enumerated."""
    dist = {0: Fraction(1)}
    for a, b in strata:
        n = len(a)
        d = [int(x) - int(y) for x, y in zip(a, b)]
        one = {}
        for idx in itertools.product(range(n), repeat=n):
            k = sum(d[i] for i in idx)
            one[k] = one.get(k, 0) + 1
        new = {}
        for k0, p0 in dist.items():
            for k1, c1 in one.items():
                new[k0 + k1] = new.get(k0 + k1, 0) + p0 * Fraction(c1, n ** n)
        dist = new
    return sorted(dist.items())


def exact_quantile(dist, q):
    acc = Fraction(0)
    for k, p in dist:
        acc += p
        if acc >= q:
            return k
    return dist[-1][0]


def parse(tokens):
    return [(np.array([int(c) for c in a]), np.array([int(c) for c in b])) for a, b in tokens]


exact_cases = [
    [("1100", "1000")],                      # one task won by A alone
    [("1010", "1010")],                      # A = B: paired, no difference ever
    [("1111", "0000"), ("10", "01")],        # the strata differ: seed 1 always +4
    [("10000", "00000"), ("10000", "00000")],  # index 0 in both seeds
    [("11010", "10110"), ("0111", "0010")],
]
for case in exact_cases:
    strata = parse(case)
    N = sum(len(a) for a, _ in strata)
    dist = exact_distribution(strata)
    cdf, acc = [], Fraction(0)
    for _, p in dist:
        acc += p
        cdf.append(float(acc))
    # the interval is only pinned down where the CDF crosses the levels
    # clearly: a C run of 40,000 resamples has a CDF error of ~0.0008
    for q in QS:
        margin = min(abs(F - q) for F in cdf)
        assert margin > 0.005, (case, q, margin)
    lo, hi = (exact_quantile(dist, Fraction(q).limit_denominator(1000)) / N for q in QS)
    lines.append(f"exact {strata_tokens(strata)} {len(dist)} "
                 + " ".join(f"{g(k / N)} {g(p)}" for k, p in dist) + f" {g(lo)} {g(hi)}")


# ---------------------------------------------------------------- boot
def quantile_tol(draws, q, grid):
    sd = float(np.std(draws))
    z = st.norm.ppf(q)
    f = st.norm.pdf(z) / sd if sd > 0 else math.inf
    se = math.sqrt(q * (1 - q)) * math.sqrt(1 / B_C + 1 / B_REF) / f
    return 4 * se + grid


def bootstrap(strata, reps, seed):
    r = np.random.default_rng(seed)
    S = len(strata)
    N = sum(len(a) for a, _ in strata)
    diff = np.zeros(reps)
    poi_v = np.zeros(reps)
    for a, b in strata:
        n = len(a)
        d = a.astype(np.int64) - b.astype(np.int64)
        for lo in range(0, reps, 5000):
            hi = min(reps, lo + 5000)
            idx = r.integers(0, n, size=(hi - lo, n))  # the same tasks for A and B
            ds = d[idx].sum(axis=1)
            diff[lo:hi] += ds
            poi_v[lo:hi] += 0.5 + ds / (2 * n)
    return diff / N, poi_v / S


for name, strata in sets.items():
    N = sum(len(a) for a, _ in strata)
    S = len(strata)
    diff, pv = bootstrap(strata, B_REF, 7)
    lo, hi = np.percentile(diff, [100 * q for q in QS])
    plo, phi = np.percentile(pv, [100 * q for q in QS])
    tol = max(quantile_tol(diff, q, 1 / N) for q in QS)
    ptol = max(quantile_tol(pv, q, max(1 / (2 * S * len(a)) for a, _ in strata)) for q in QS)
    lines.append(f"boot {name} {strata_tokens(strata)} {g(poi(strata))} {B_REF} {g(lo)} {g(hi)} "
                 f"{g(tol)} {g(plo)} {g(phi)} {g(ptol)}")

# ---------------------------------------------------------------- score
# 30 rewards: few enough that resampling n - 1 of them, or reading the 95%
# point for the 97.5% one, moves the interval by more than the Monte-Carlo
# error of 100,000 resamples (the C function's run); the summary's own 1,000
# resamples get the wider tolerance.  Rewards are multiples of 1/12, so
# means x 100 move in steps of 100 / (12 n).
r = np.random.default_rng(11)
rewards = r.choice([0.0, 1.0, 0.5, 0.75, 1 / 3], size=30, p=[0.4, 0.3, 0.1, 0.1, 0.1])
means = np.empty(B_REF)
for lo in range(0, B_REF, 5000):
    hi = min(B_REF, lo + 5000)
    means[lo:hi] = 100 * rewards[r.integers(0, len(rewards), size=(hi - lo, len(rewards)))].mean(axis=1)
slo, shi = np.percentile(means, [2.5, 97.5])
sd = float(np.std(means))
step = 100 / (12 * len(rewards))
tols = []
for b_c in (B_C_SCORE_FN, B_C_SCORE):
    se = math.sqrt(0.025 * 0.975) * math.sqrt(1 / b_c + 1 / B_REF) / (st.norm.pdf(1.96) / sd)
    tols.append(4 * se + step)
lines.append(f"score {len(rewards)} " + " ".join(g(x) for x in rewards)
             + f" {g(slo)} {g(shi)} {B_C_SCORE_FN} {g(tols[0])} {g(tols[1])}")

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"{OUT}: {len(lines) - 1} records", file=sys.stderr)
