"""The notebook's name for the run layer's pure HTML helpers (``kestra_magic.render``).

Only ``notebook/flowcell.py`` still imports this path; once it imports ``kestra_magic.render``
directly this module goes.
"""
from kestra_magic.render import esc, link  # noqa: F401
