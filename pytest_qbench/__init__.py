"""pytest-qbench: gate accuracy and latency regressions of int8-quantized transformers on CPUs."""

__version__ = "0.1.0"
