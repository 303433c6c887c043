"""Which OpenMP runtime library the compiled core runs on (for ``show_config()``).

The core is linked against one OpenMP runtime (GNU libgomp, LLVM libomp, Intel libiomp5 or
MSVC's vcomp); a process may hold several (PyTorch and scikit-learn bring their own), and
threadpoolctl and ``OMP_NUM_THREADS`` act on each of them. To name ours, the symbol
``omp_get_max_threads`` is looked up from the core's own library handle (which searches its
dependencies, i.e. the runtime it was linked with) and ``dladdr`` names the file holding it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

from . import _core


class _DlInfo(ctypes.Structure):
    dli_fname: bytes | None
    dli_fbase: int | None
    dli_sname: bytes | None
    dli_saddr: int | None
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _library_of_symbol(library: str, symbol: str) -> str | None:
    """Path of the shared library that provides `symbol` to `library` (POSIX), or None."""
    if sys.platform == "win32":
        return None
    try:
        handle = ctypes.CDLL(library)  # already loaded: the same handle, nothing runs again
        address = ctypes.cast(getattr(handle, symbol), ctypes.c_void_p).value
        libc = ctypes.CDLL(None)
        dladdr = libc.dladdr
    except (OSError, AttributeError):
        return None
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    dladdr.restype = ctypes.c_int
    info = _DlInfo()
    if not address or dladdr(address, ctypes.byref(info)) == 0 or not info.dli_fname:
        return None
    return os.fsdecode(info.dli_fname)


def openmp_runtime() -> str | None:
    """Path of the OpenMP runtime library the core uses; None without OpenMP or where it cannot
    be found out (Windows: MSVC builds link vcomp)."""
    if not _core.have_openmp():
        return None
    return _library_of_symbol(_core.__file__, "omp_get_max_threads")
