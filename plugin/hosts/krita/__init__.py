"""T2I Studio for Krita: a docker that generates images from a prompt with a local t2i
worker and adds them as paint layers that remember how they were made.

Krita imports this package at startup (``pykrita/t2i_studio``). ``t2i package krita`` packs
it with private copies of the panel and the worker client (``_vendor/``, imports rewritten
to point there) and of qtpy/packaging/pyzmq (``_vendor/site``). Imported anywhere else (the
tests, packaging), it registers nothing.
"""


def _register_in_krita() -> None:
    try:
        import krita  # noqa: F401
    except ImportError:
        return  # not inside Krita
    from .vendor_path import add_vendored_site

    add_vendored_site()  # before anything imports qtpy or zmq
    from .extension import register

    register()


_register_in_krita()
