"""Reference computations for the task-clustered statistics of `labj report`
(engine/read/src/report/clustered.rs), written independently with numpy and scipy.

Reads {"clusters": {name: [[x, ...] per task]}, "pairs": {name: {"base": ..., "var": ...}},
"holm": [[p, ...], ...]} on stdin and prints the reference values as JSON.
"""
import json
import sys

import numpy as np
from scipy import stats

Z = stats.norm.ppf(0.975)


def cr1(clusters):
    groups = [np.asarray(c, float) for c in clusters if len(c)]
    allx = np.concatenate(groups)
    n, g = len(allx), len(groups)
    mean = allx.mean()
    if g < 2:
        return mean, None
    # CR1 sandwich for an intercept-only regression, clustered by task.
    meat = sum(((c - mean).sum()) ** 2 for c in groups)
    return mean, float(np.sqrt(g / (g - 1) * meat / n**2))


def deff(clusters):
    mean, se = cr1(clusters)
    allx = np.concatenate([np.asarray(c, float) for c in clusters if len(c)])
    if se is None or len(allx) < 2:
        return None
    iid = allx.var(ddof=1) / len(allx)
    return None if iid == 0 else se**2 / iid


def wilson_by_roots(p, n):
    """The Wilson interval as the roots of (p - q)^2 = z^2 q (1 - q) / n in q."""
    a = 1 + Z**2 / n
    b = -(2 * p + Z**2 / n)
    c = p**2
    r = np.sort(np.roots([a, b, c]).real)
    return [max(0.0, float(r[0])), min(1.0, float(r[-1]))]


def components(clusters):
    groups = [np.asarray(c, float) for c in clusters if len(c)]
    df = sum(len(c) - 1 for c in groups)
    within = sum(((c - c.mean()) ** 2).sum() for c in groups) / df if df else None
    between = None
    if len(groups) >= 2:
        means = np.array([c.mean() for c in groups])
        noise = (within or 0.0) * np.mean([1 / len(c) for c in groups])
        between = max(0.0, means.var(ddof=1) - noise)
    return within, between


def cluster_bootstrap(clusters, resamples=20000, seed=5):
    rng = np.random.default_rng(seed)
    sums = np.array([sum(c) for c in clusters if len(c)], float)
    counts = np.array([len(c) for c in clusters if len(c)], float)
    idx = rng.integers(0, len(sums), size=(resamples, len(sums)))
    means = sums[idx].sum(1) / counts[idx].sum(1)
    return [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]


def mde(sd, n):
    if n < 2:
        return None
    return float((stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)) * sd / np.sqrt(n))


def exact_power(effect, sd, n):
    """Power of the two-sided paired t test from the noncentral t distribution."""
    df, nc = n - 1, effect / (sd / np.sqrt(n))
    q = stats.t.ppf(0.975, df)
    return float(stats.nct.sf(q, df, nc) + stats.nct.cdf(-q, df, nc))


def tasks_needed(effect, sd):
    if effect == 0:
        return None
    n = 2
    while mde(sd, n) > abs(effect):
        n += 1
        if n > 10**6:
            return None
    return n


def paired(base, var):
    d = np.array([np.mean(v) - np.mean(b) for b, v in zip(base, var) if len(b) and len(v)])
    out = {"diffs": d.tolist(), "mean": float(d.mean())}
    if len(d) >= 2 and d.std(ddof=1) > 0:
        t = stats.ttest_1samp(d, 0.0)
        out["t"], out["t_p"] = float(t.statistic), float(t.pvalue)
        se = d.std(ddof=1) / np.sqrt(len(d))
        q = stats.t.ppf(0.975, len(d) - 1)
        out["ci"] = [float(d.mean() - q * se), float(d.mean() + q * se)]
    if len(d) >= 2:
        perm = stats.permutation_test(
            (d,), np.mean, permutation_type="samples", n_resamples=np.inf,
            alternative="two-sided", vectorized=True,
        )
        out["perm_p"] = float(perm.pvalue)
    else:
        # scipy needs two observations; with one, both signs reach |d|.
        out["perm_p"] = 1.0
    if len(d) >= 2:
        sd = float(d.std(ddof=1))
        out["sd"] = sd
        out["mde"] = mde(sd, len(d))
        out["tasks_needed"] = tasks_needed(float(d.mean()), sd)
        if sd > 0 and out["mde"]:
            power = exact_power(out["mde"], sd, len(d))
            if np.isfinite(power):
                out["power_at_mde"] = power
        wb, _ = components(base)
        wv, _ = components(var)
        if wb is not None or wv is not None:
            w = np.mean([(wb or 0) / len(b) + (wv or 0) / len(v) for b, v in zip(base, var)])
            out["within"] = float(w)
            out["between"] = max(0.0, sd**2 - float(w))
    return out


def holm(ps):
    ps = np.asarray(ps, float)
    m = len(ps)
    order = np.argsort(ps, kind="stable")
    adj = np.minimum(1.0, (m - np.arange(m)) * ps[order])
    adj = np.maximum.accumulate(adj)
    out = np.empty(m)
    out[order] = adj
    return out.tolist()


def main():
    spec = json.load(sys.stdin)
    result = {"clusters": {}, "pairs": {}, "holm": []}
    for name, clusters in spec["clusters"].items():
        mean, se = cr1(clusters)
        binary = all(x in (0, 1) for c in clusters for x in c)
        r = {"mean": float(mean), "se": se, "deff": deff(clusters)}
        w, b = components(clusters)
        r["within"], r["between"] = w, b
        n = sum(len(c) for c in clusters)
        tasks = sum(1 for c in clusters if len(c))
        if binary and tasks >= 2:
            d = r["deff"] if r["deff"] is not None else 1.0
            r["wilson_clustered"] = wilson_by_roots(float(mean), n / d)
        if tasks >= 2:
            r["boot"] = cluster_bootstrap(clusters)
        result["clusters"][name] = r
    for name, pair in spec["pairs"].items():
        result["pairs"][name] = paired(pair["base"], pair["var"])
    for ps in spec["holm"]:
        result["holm"].append(holm(ps))
    json.dump(result, sys.stdout)


main()
