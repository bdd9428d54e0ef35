"""In-process stores: no persistence, for tests and as a fallback cache."""
