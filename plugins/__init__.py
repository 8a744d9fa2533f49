"""The bundled dead-cache policies, installed as the package ``slabpolicy_plugins``.

Each module is a plugin found through the ``slabpolicy`` entry-point group, the
same way a third party's is; none is special to the core.
"""
