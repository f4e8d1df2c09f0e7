"""The background agents: jobs that watch external systems on a schedule (the Jira
notificator, the release detector, the test-result checker), each also a one-shot CLI entry
and, where GitHub can say something changed, a webhook trigger. Each one is a pure rules
module plus a module that runs it on ports; state lives in the database."""
