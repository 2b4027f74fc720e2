"""The benchmark suite: python -m bench (see README.md here)."""
