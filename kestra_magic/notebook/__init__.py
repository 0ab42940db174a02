"""Notebook layer: the ``%kestra_*`` magics, the live execution widget, renderings."""
