"""Check the contents of the sdist and the wheel that `python -m build` made.

Usage: python check_dist.py DIST_DIR

The sdist must hold what a build and a check of it need (the C kernels, the Cython source, the
stubs, the tests) and no build output; the wheel must hold the compiled core, the stubs and
py.typed, and no C or Cython source.
"""
import fnmatch
import glob
import os
import sys
import tarfile
import zipfile

SDIST_NEEDS = ["LICENSE", "README.md", "pyproject.toml", "setup.py", "src/*.c", "src/*.h",
               "src/*.inc", "softmax_fast/_core.pyx", "softmax_fast/*.pyi",
               "softmax_fast/py.typed", "softmax_fast/__init__.py", "tests/test_*.py",
               "tests/conftest.py", "tests/helpers.py", "benchmarks/*.py"]
SDIST_FORBIDS = ["*.so", "*.pyd", "*.o", "*.obj", "*.pyc", "softmax_fast/_core.c",
                 "softmax_fast/_core.html", "build/*"]
WHEEL_NEEDS = ["softmax_fast/_core.*", "softmax_fast/__init__.pyi", "softmax_fast/_core.pyi",
               "softmax_fast/py.typed", "*.dist-info/licenses/LICENSE"]
WHEEL_FORBIDS = ["*.c", "*.pyx", "*.h", "*.inc"]


def _check(kind, names, needs, forbids):
    errors = [f"{kind} lacks {p}" for p in needs if not fnmatch.filter(names, p)]
    errors += [f"{kind} holds {n}" for p in forbids for n in fnmatch.filter(names, p)]
    return errors


def main(dist):
    (sdist,) = glob.glob(os.path.join(dist, "*.tar.gz"))
    (wheel,) = glob.glob(os.path.join(dist, "*.whl"))
    with tarfile.open(sdist) as t:
        # drop the top directory (softmax_fast-VERSION/)
        sdist_names = [m.name.split("/", 1)[1] for m in t.getmembers()
                       if m.isfile() and "/" in m.name]
    with zipfile.ZipFile(wheel) as z:
        wheel_names = z.namelist()
    # the .so/.pyd of the core is the point of the wheel; only sources are forbidden there
    errors = (_check("sdist", sdist_names, SDIST_NEEDS, SDIST_FORBIDS)
              + _check("wheel", wheel_names, WHEEL_NEEDS, WHEEL_FORBIDS))
    print(f"{os.path.basename(sdist)}: {len(sdist_names)} files; "
          f"{os.path.basename(wheel)}: {len(wheel_names)} files")
    for e in errors:
        print("CI:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
