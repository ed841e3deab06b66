"""One package per database engine: ``sqlite``, ``postgresql``, ``mysql``; the registry is ``registry``.

Kept empty on purpose: importing one engine's module must not import the
others (nor the registry, which names them all).
"""
