"""The variants a case compares: the original exported (export.py), optimised and quantized (quantize.py),
read back (inspect.py), with exclusion families resolved to nodes (exclusion.py), all through a
content-addressed build cache (cache.py)."""
