"""py_alloc.py: a fixed, allocation-heavy CPython script for the bench's real-program section.

Usage: python3 -S py_alloc.py [OUTFILE] [SCALE]
Deterministic with PYTHONHASHSEED=0. Objects over 512 bytes bypass pymalloc, so lists, dicts,
long strings and bytearrays here reach libc's malloc, calloc, realloc and free; small objects
exercise pymalloc (libc only for its 256 KiB arenas). Writes {"elapsed_s", "cpu_s" (process CPU,
kernel time in probe traps included), "checksum", "uprobes_mapped"} as JSON.
"""
import json
import sys
import time


def one_round(r):
    acc = 0
    # lists grown by append: realloc chains up to 16 KiB
    for n in (100, 700, 2000):
        lst = []
        for i in range(n):
            lst.append(i ^ r)
        acc += len(lst)
    # strings and bytes of 600 B to 8 KiB: one malloc and one free each
    strs = ["x" * (600 + (i * 37 + r) % 7600) for i in range(300)]
    acc += sum(len(s) for s in strs)
    blobs = [bytes(512 + (i * 97) % 4000) for i in range(200)]
    acc += len(blobs)
    # dicts past the small table: calloc'd hash tables and resizes
    for n in (50, 400):
        d = {}
        for i in range(n):
            d["k%d" % i] = i
        acc += len(d)
    # bytearray grown in place: realloc
    b = bytearray()
    for i in range(150):
        b += b"y" * 100
    acc += len(b)
    # a JSON round trip: buffers and temporary lists
    doc = [{"id": i, "name": "item-%d" % i, "tags": ["a", "b", "c"]} for i in range(150)]
    text = json.dumps(doc)
    acc += len(json.loads(text)) + len(text)
    return acc


def uprobes_mapped():
    """1 when the kernel mapped its uprobes area here: some return probe or single-stepped
    probe hit this process (in an untraced run: another tracer's)."""
    try:
        with open("/proc/self/maps") as f:
            return int(any("[uprobes]" in line for line in f))
    except OSError:
        return -1


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else None
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    t0 = time.perf_counter()
    c0 = time.process_time()
    checksum = 0
    for r in range(scale):
        checksum = (checksum + one_round(r)) & 0xFFFFFFFF
    res = {"elapsed_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
           "rounds": scale, "checksum": checksum,
           "uprobes_mapped": uprobes_mapped()}
    text = json.dumps(res)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


main()
