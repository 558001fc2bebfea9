"""Tooling for instructors and maintainers: the notebook runner (:mod:`helpers.tools.report`) and the
mirror builder (:mod:`helpers.tools.mirror`). Notebooks never import it."""
