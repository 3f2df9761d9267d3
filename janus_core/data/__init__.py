"""Datasets after the fact: inputs, export, stats, report, duplicate detection."""
