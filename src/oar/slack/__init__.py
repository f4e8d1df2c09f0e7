"""The Slack bot: commands run in threads, questions answered by an LLM, approvals as buttons.

Pure parts (``commands``, ``access``, ``messages``) decide; the rest does I/O on the event
loop and never blocks it.
"""
