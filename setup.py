"""Build of the compiled core: one Cython extension over the C kernels in src/.

OpenMP is used when the compiler can build a tiny OpenMP program (probed below); otherwise, or
with SOFTMAX_FAST_NO_OPENMP=1, the extension builds serially with a warning. No -march=native and
no global -mavx* flags: the SIMD files (added per ISA) carry their own target attributes, so the
baseline code runs on any x86-64 CPU.
"""
import os
import sys
import tempfile
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCES = [
    "softmax_fast/_core.pyx",
    "src/dispatch.c",
    "src/kernels_scalar.c",
    "src/kernels_avx2.c",
    "src/kernels_avx512.c",
    "src/stream_copy.c",
]

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def _openmp_flags(compiler):
    """(compile flags, link flags) for OpenMP, or None when this compiler cannot do it."""
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        for cflags, lflags in candidates:
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
                compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=lflags)
                return cflags, lflags
            except Exception:  # the probe failing is the answer, whatever the reason
                continue
    return None


class BuildExt(build_ext):
    def build_extensions(self):
        cc = self.compiler
        if cc.compiler_type == "msvc":
            cflags = ["/O2", "/fp:precise"]
        else:
            # -fno-trapping-math only lets gcc if-convert the selects of the exp kernels so the
            # lane loops vectorize; it changes no result (we never read FP exception flags).
            # -ffp-contract=off: fused multiply-adds only where the code asks (exp_portable.h);
            # gcc's own fusing breaks the exact TwoSum of scale*x - max.
            cflags = ["-O3", "-fno-trapping-math", "-ffp-contract=off"]
            if os.environ.get("SOFTMAX_FAST_SANITIZE"):
                cflags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1"]
        lflags = []
        if os.environ.get("SOFTMAX_FAST_NO_OPENMP") == "1":
            print("softmax_fast: SOFTMAX_FAST_NO_OPENMP=1, building without OpenMP")
            omp = None
        else:
            omp = _openmp_flags(cc)
            if omp is None:
                warnings.warn("softmax_fast: the compiler cannot build OpenMP code; "
                              "building single-threaded")
        if omp is not None:
            cflags += omp[0]
            lflags += omp[1]
        for ext in self.extensions:
            ext.extra_compile_args = cflags + list(ext.extra_compile_args or [])
            ext.extra_link_args = lflags + list(ext.extra_link_args or [])
        super().build_extensions()


extensions = [
    Extension(
        "softmax_fast._core",
        sources=SOURCES,
        include_dirs=["src", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=["src/softmax_fast.h", "src/exp_portable.h", "src/kernels_portable.h",
                 "src/kernels_portable.inc"],
    ),
    # the fused operations call the kernels through _core (softmax_fast/_core.pxd): one kernel
    # table, one ISA choice; no C sources of their own
    Extension(
        "softmax_fast._fused",
        sources=["softmax_fast/_fused.pyx"],
        include_dirs=["src", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=["src/softmax_fast.h", "src/topk_screen.h", "softmax_fast/_core.pxd"],
    ),
]

setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
    cmdclass={"build_ext": BuildExt},
)
