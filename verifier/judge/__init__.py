"""Judging: per-element verdicts, kinks and nearby smooth points, directions, the status."""
