#!/usr/bin/env python3
"""Static analysis of every C file of a Windows build, as it is built.

Reads BUILD/compile_commands.json (the wine or clang-wine build exports it)
and runs cppcheck (cmake/cppcheck-suppressions.txt) and clang-tidy (the
.clang-tidy at the top, with the MinGW target and headers) over each file,
N files at a time. Any finding fails: exit 1. The CTest test static_analysis
runs it; by hand:
    python3 scripts/analyze.py build/wine [--jobs 2] [--no-cache]

A file built twice (a variant target with extra defines) is analysed once,
as the build with the fewest defines has it. clang-tidy's clean results are
remembered in BUILD/analysis/ per file, keyed by the compile command, the
file, every header of the project and .clang-tidy, so that a second run only
analyses what changed (--no-cache: everything).
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = "x86_64-w64-mingw32"
# What the MinGW compiler predefines; cppcheck reads no system headers.
CPPCHECK_DEFINES = ["-D_WIN32", "-D_WIN64", "-D__MINGW32__", "-D__MINGW64__"]


def load_entries(build):
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    chosen = {}
    for e in entries:
        defines = e["command"].count(" -D")
        old = chosen.get(e["file"])
        if old is None or defines < old["command"].count(" -D"):
            chosen[e["file"]] = e
    return [chosen[k] for k in sorted(chosen)]


def project_headers_hash():
    h = hashlib.sha256()
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("build", "results"))
        for name in sorted(files):
            if name.endswith(".h"):
                with open(os.path.join(top, name), "rb") as f:
                    h.update(name.encode() + f.read())
    for name in (".clang-tidy",):
        with open(os.path.join(ROOT, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def tool_version(tool):
    return subprocess.run([tool, "--version"], capture_output=True, text=True).stdout


def cppcheck_suppressions():
    """The ids of cmake/cppcheck-suppressions.txt (# starts a comment)."""
    with open(os.path.join(ROOT, "cmake", "cppcheck-suppressions.txt")) as f:
        ids = [line.split("#")[0].strip() for line in f]
    return ["--suppress=" + i for i in ids if i]


def run_cppcheck(db, work, jobs):
    cell = os.path.join(work, "cppcheck")
    os.makedirs(cell, exist_ok=True)
    cmd = ["cppcheck", "--project=" + db, "--platform=win64", *CPPCHECK_DEFINES,
           "--enable=warning,style,performance,portability", "--inline-suppr",
           *cppcheck_suppressions(), "--error-exitcode=1", "--quiet", "-j", str(jobs), "--cppcheck-build-dir=" + cell,
           "--template={file}:{line}: cppcheck {severity}: {message} [{id}]"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = (p.stdout + p.stderr).strip()
    return p.returncode == 0 and not out, out


def tidy_one(entry, build_db_dir, stamp):
    if stamp is not None and os.path.exists(stamp):
        return True, "", True
    cmd = ["clang-tidy", "-p", build_db_dir, "--quiet", "--extra-arg=--target=" + TARGET,
           entry["file"]]
    p = subprocess.run(cmd, capture_output=True, text=True)
    # clang-tidy prints "N warnings generated" for system headers it hides.
    lines = [l for l in (p.stdout + p.stderr).splitlines()
             if "warnings generated" not in l and "warning generated" not in l
             and not l.startswith("Suppressed ") and not l.startswith("Use -header-filter")]
    ok = p.returncode == 0 and not any(": warning:" in l or ": error:" in l for l in lines)
    if ok and stamp is not None:
        open(stamp, "w").close()
    return ok, "\n".join(lines), False


def run_clang_tidy(entries, work, jobs, use_cache):
    stamps = os.path.join(work, "tidy-ok")
    os.makedirs(stamps, exist_ok=True)
    common = tool_version("clang-tidy") + project_headers_hash()
    jobs_list = []
    for e in entries:
        key = None
        if use_cache:
            with open(e["file"], "rb") as f:
                data = f.read()
            key = hashlib.sha256(common.encode() + e["command"].encode() + data).hexdigest()
            key = os.path.join(stamps, key)
        jobs_list.append((e, key))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda j: tidy_one(j[0], work, j[1]), jobs_list))
    bad = [out for ok, out, _ in results if not ok]
    cached = sum(1 for _, _, hit in results if hit)
    return bad, cached


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build", "wine"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-cache", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    work = os.path.join(build, "analysis")
    os.makedirs(work, exist_ok=True)
    entries = load_entries(build)
    db = os.path.join(work, "compile_commands.json")
    with open(db, "w") as f:
        json.dump(entries, f, indent=1)

    t0 = time.time()
    cpp_ok, cpp_out = run_cppcheck(db, work, a.jobs)
    t1 = time.time()
    tidy_bad, cached = run_clang_tidy(entries, work, a.jobs, not a.no_cache)
    t2 = time.time()
    if cpp_out:
        print(cpp_out)
    for out in tidy_bad:
        print(out)
    print("static analysis: %d files; cppcheck %.1f s (%s); clang-tidy %.1f s "
          "(%d analysed, %d unchanged since a clean run; %d with findings)"
          % (len(entries), t1 - t0, "clean" if cpp_ok else "findings", t2 - t1,
             len(entries) - cached, cached, len(tidy_bad)))
    return 0 if cpp_ok and not tidy_bad else 1


if __name__ == "__main__":
    sys.exit(main())
