"""What a module of the core asks of Cython, where Cython is not installed.

A core module that has a second, compiled path imports ``cython`` for
``cython.compiled`` (a constant Cython folds when it compiles the module), and
this module in its place where the ``cython`` package is missing: Cython is
not a runtime dependency, and the ``.py`` then runs as it is.
"""

#: the module runs as Python source
compiled = False


def cclass(cls):
    """``@cython.cclass``: an extension type when compiled; the class itself here."""
    return cls


def freelist(size):
    """``@cython.freelist(size)``: the compiled class keeps up to ``size`` freed
    instances for reuse; nothing here."""
    return lambda cls: cls
