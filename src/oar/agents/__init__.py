"""The background agents: each a schedule on the engine and a one-shot CLI entry.

The CI gate (reference §5): :mod:`~oar.agents.jobregistry` (which jobs test a build),
:mod:`~oar.agents.controller` (trigger them once per build), :mod:`~oar.agents.aggregator`
(collect results, retry, accept and label) over the pure rules of
:mod:`~oar.agents.testresults`, with their runs recorded by :mod:`~oar.agents.jobruns`.
"""
