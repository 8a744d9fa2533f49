"""What a module of the core asks of Cython, where Cython is not installed.

A core module that has a second, compiled path imports ``cython`` for
``cython.compiled`` (a constant Cython folds when it compiles the module), and
this module in its place where the ``cython`` package is missing: Cython is
not a runtime dependency, and the ``.py`` then runs as it is.
"""

#: the module runs as Python source
compiled = False
