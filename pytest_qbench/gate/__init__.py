"""Gate: baselines, the compare/update policy, the diagnosis and repair of a lost accuracy, and the
merge of sharded runs into one verdict."""
