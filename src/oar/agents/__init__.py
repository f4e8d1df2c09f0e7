"""The background agents: each one a schedule on the durable engine, a one-shot CLI entry,
and, where GitHub can say something changed, a webhook trigger. State lives in the
database; the GitHub files stay in the original's formats for the team's current tools."""
