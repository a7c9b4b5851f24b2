#!/usr/bin/env python3
"""fuse_stall.py: a read-only FUSE file system over a directory, whose server can stop
answering: what a traced user can mount (fusermount, or a user namespace) to hang any
process that reads its files.

usage: fuse_stall.py SRC MOUNTPOINT
Mounts SRC read-only at MOUNTPOINT and prints "mounted". Reading the file "stall" at the
top of the mount answers once ("stalled") and from then on no request is answered: each
waits until the file system is unmounted.
"""
import errno
import os
import sys
import threading

try:
    from fusepy import FUSE, FuseOSError, Operations  # Debian's python3-fusepy
except ImportError:
    from fuse import FUSE, FuseOSError, Operations

STALL = "/stall"


class Stalling(Operations):
    def __init__(self, src):
        self.src = src
        self.stalled = threading.Event()
        self.never = threading.Event()

    def _path(self, path):
        if self.stalled.is_set():
            self.never.wait()
        return os.path.join(self.src, path.lstrip("/"))

    def init(self, path):
        print("mounted", flush=True)

    def getattr(self, path, fh=None):
        if path == STALL:
            return {"st_mode": 0o100444, "st_nlink": 1, "st_size": 8}
        st = os.lstat(self._path(path))
        return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_size", "st_uid",
                                            "st_gid", "st_atime", "st_mtime", "st_ctime",
                                            "st_ino")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def readlink(self, path):
        return os.readlink(self._path(path))

    def open(self, path, flags):
        if path == STALL:
            return 0
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise FuseOSError(errno.EROFS)
        return os.open(self._path(path), os.O_RDONLY)

    def read(self, path, size, offset, fh):
        if path == STALL:
            self.stalled.set()
            return b"stalled\n"[offset:offset + size]
        self._path(path)
        return os.pread(fh, size, offset)

    def release(self, path, fh):
        if path != STALL:
            os.close(fh)
        return 0


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fuse_stall.py SRC MOUNTPOINT")
    FUSE(Stalling(sys.argv[1]), sys.argv[2], foreground=True, ro=True, allow_other=True,
         use_ino=True)


if __name__ == "__main__":
    main()
