"""Gate: the stored baselines (baselines.py), the rules that decide every verdict (rules.py) with the
latency statistics they test with (latency_stats.py, spread.py), and the merge of sharded runs into
one verdict (merge.py), which re-judges a case measured by several runs (rejudge.py)."""
