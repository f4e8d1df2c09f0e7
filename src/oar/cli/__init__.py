"""Command-line interfaces: ``oar`` (release checklist), ``oarctl`` (service), ``jobctl`` (Prow).

Commands are thin: parse, call a service, render. Errors are ``OarError``s printed as
one clear line on stderr, with exit status 1 (2 for configuration errors).
"""
