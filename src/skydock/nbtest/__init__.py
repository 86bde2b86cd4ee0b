"""The notebook test runner (arrives with its own issue)."""
