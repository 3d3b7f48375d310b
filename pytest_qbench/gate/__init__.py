"""Gate: the stored baselines (baselines.py), the compare/update policy that decides every verdict
(policy.py), and the merge of sharded runs into one verdict (merge.py)."""
