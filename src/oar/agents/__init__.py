"""The background agents: jobs that watch external systems on a schedule (the Jira
notificator, …). Each one is a pure rules module plus a module that runs it on ports."""
