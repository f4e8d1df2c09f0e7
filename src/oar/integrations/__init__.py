"""One port per external system: a small async Protocol, a real adapter on the library
its users trust, and an in-memory fake that the contract tests hold to the same behaviour.
"""
