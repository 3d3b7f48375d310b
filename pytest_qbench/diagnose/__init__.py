"""Diagnose: why a quantized variant lost accuracy (diagnosis.py), the smallest exclusion that brings it
back (repair.py), and the wiring of both to one case's models and data (case.py)."""
