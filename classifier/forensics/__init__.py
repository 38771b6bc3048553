"""Forensics: time windows and filters, evidence extraction, multi-capture merge."""
