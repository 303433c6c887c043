"""Build of the compiled core: one Cython extension over the C kernels in src/.

OpenMP is used when the compiler can build a tiny OpenMP program (probed below); otherwise, or
with SOFTMAX_FAST_NO_OPENMP=1, the extension builds serially with a warning. No -march=native and
no global -mavx* flags: the SIMD files (added per ISA) carry their own target attributes, so the
baseline code runs on any x86-64 CPU.
"""
import os
import shutil
import subprocess
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


def _libomp_prefix():
    """Where libomp is installed on macOS: $LIBOMP_PREFIX, else Homebrew's libomp; or None.
    (CFLAGS/LDFLAGS alone do not reach the probe: distutils links executables without
    LDFLAGS.)"""
    prefix = os.environ.get("LIBOMP_PREFIX")
    if not prefix and shutil.which("brew"):
        try:
            prefix = subprocess.run(["brew", "--prefix", "libomp"], capture_output=True,
                                    text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            prefix = None
    if prefix and os.path.exists(os.path.join(prefix, "include", "omp.h")):
        return prefix
    return None


def _openmp_flags(compiler):
    """(compile flags, link flags) for OpenMP, or None when this compiler cannot do it."""
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
        prefix = _libomp_prefix()
        if prefix:  # Apple clang has no OpenMP runtime of its own: LLVM's libomp (Homebrew)
            candidates.insert(0, (["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                                  [f"-L{prefix}/lib", "-lomp", f"-Wl,-rpath,{prefix}/lib"]))
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
        self._write_build_config(cflags)
        for ext in self.extensions:
            ext.extra_compile_args = cflags + list(ext.extra_compile_args or [])
            ext.extra_link_args = lflags + list(ext.extra_link_args or [])
            ext.include_dirs = list(ext.include_dirs) + [self.build_temp]
        super().build_extensions()

    def _write_build_config(self, cflags):
        """sf_build_config.h in the build's temporary directory: the flags chosen above (and
        CFLAGS from the environment), for show_config()["build"]. A header, not a -D macro:
        a string macro on the command line needs quoting that differs per compiler."""
        flags = " ".join(cflags + os.environ.get("CFLAGS", "").split())
        literal = flags.replace("\\", "\\\\").replace('"', '\\"')
        os.makedirs(self.build_temp, exist_ok=True)
        path = os.path.join(self.build_temp, "sf_build_config.h")
        text = f'#define SF_BUILD_FLAGS "{literal}"\n'
        old = None
        if os.path.exists(path):
            with open(path) as f:
                old = f.read()
        if old != text:  # unchanged: keep its time stamp, so nothing rebuilds for it
            with open(path, "w") as f:
                f.write(text)


extensions = [
    Extension(
        "softmax_fast._core",
        sources=SOURCES,
        include_dirs=["src", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=["src/softmax_fast.h", "src/exp_portable.h", "src/sigmoid_portable.h",
                 "src/kernels_portable.h",
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
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3",
                                                     # no __test__ dict (stubtest would see it)
                                                     "autotestdict": False}),
    cmdclass={"build_ext": BuildExt},
)
