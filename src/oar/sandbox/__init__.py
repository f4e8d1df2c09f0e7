"""Local stand-ins for every external system, speaking their real protocols on 127.0.0.1.

Used by the integration tests (port 0), ``oarctl sandbox`` and ``oarctl demo``.
"""
