# Where `meson install` put libprodigy-store (replaced by the installed copy of
# _install.py.in); None in the source tree, where PRODIGY_STORE_LIBRARY or the
# system's library path is used.
LIBDIR = None
