"""The background agents: jobs that watch external systems on a schedule, each also a
one-shot CLI entry and, where GitHub can say something changed, a webhook trigger. Each one
is a pure rules module plus a module that runs it on ports; state lives in the database.

- The Jira notificator: :mod:`~oar.agents.notificator` over :mod:`~oar.agents.escalation`,
  :mod:`~oar.agents.premerge` and :mod:`~oar.agents.weekdayhours`.
- The release detector and the test-result checker: :mod:`~oar.agents.detector`,
  :mod:`~oar.agents.resultchecker`, :mod:`~oar.agents.discovery`.
- The CI gate (reference §5): :mod:`~oar.agents.jobregistry` (which jobs test a build),
  :mod:`~oar.agents.controller` (trigger them once per build), :mod:`~oar.agents.aggregator`
  (collect results, retry, accept and label) over the pure rules of
  :mod:`~oar.agents.testresults`, with their runs recorded by :mod:`~oar.agents.jobruns`.
"""
