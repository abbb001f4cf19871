"""Adapters to external systems. The only code that imports Azure SDKs, HTTP clients or file engines."""
