"""The detectors as they were before the incremental replay, kept only as test oracles."""
