"""Measure: data and inputs, accuracy per task (with label maps), latency and its statistics."""
