"""Labelled scenarios and their scorer (issue 12, point 1)."""
