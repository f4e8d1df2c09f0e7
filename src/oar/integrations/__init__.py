"""One port per external system: a small async Protocol with its value types, and the real
adapter on the library its users trust. The in-memory fakes live apart, in
:mod:`oar.integrations.fakes`, and the contract tests hold each to its adapter's behaviour.
"""
