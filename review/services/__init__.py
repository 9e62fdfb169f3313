"""Use-case functions: each takes a session first, flushes, and leaves the commit to the caller."""
