"""The transport: the one place that does HTTP (session, retry policy, hooks, error mapping).

:class:`Transport` (``session.py``) sends operation descriptors (``kestra_magic.operations``);
``retry.py`` decides what is sent again, ``hooks.py`` looks at answers (2.x 404 window, a wrong
configured generation), ``error_map.py`` turns every failure into one typed ``KestraError``.
"""
from kestra_magic.transport.session import Transport, check_call_options

__all__ = ["Transport", "check_call_options"]
