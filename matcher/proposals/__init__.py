"""Batch proposals: propose, check_validity and the summary."""
