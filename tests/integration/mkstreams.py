#!/usr/bin/env python3
# mkstreams.py - writes the inputs of test-scan-streams.sh and
# test-node-streams.sh into the current directory: multi-member and
# multi-stream compressed files, archives with data glued after their end,
# truncated and corrupt streams, and compression bombs.
#
#   mkstreams.py EICAR_FILE [bombs]
#
# The bombs inflate to gigabytes but are made in about a second: a deflate
# block that decodes to 1 MiB of zeros, emitted after a full flush, refers
# to nothing before it, so it can be repeated to make any multiple of
# 1 MiB without compressing the zeros again.
import bz2
import gzip
import io
import lzma
import struct
import sys
import tarfile
import zipfile
import zlib

MiB = 1024 * 1024


def zeros_deflate(n_mib):
    """Raw deflate data for n_mib MiB of zeros, and its CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    chunk = bytes(MiB)
    for _ in range(n_mib):
        crc = zlib.crc32(chunk, crc)
    # An empty final block with fixed codes: BFINAL=1, BTYPE=01, EOB.
    return block * n_mib + b"\x03\x00", crc


class Deflater:
    """Builds raw deflate data piece by piece; runs of whole MiB of zeros
    cost one copied block each."""

    def __init__(self):
        self.out = []
        self.crc = 0
        self.size = 0
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.zero_block = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
        self.zero_crc = zlib.crc32(bytes(MiB))

    def data(self, b):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.out.append(c.compress(b) + c.flush(zlib.Z_FULL_FLUSH))
        self.crc = zlib.crc32(b, self.crc)
        self.size += len(b)

    def zeros_mib(self, n):
        chunk = bytes(MiB)
        for _ in range(n):
            self.out.append(self.zero_block)
            self.crc = zlib.crc32(chunk, self.crc)
        self.size += n * MiB

    def finish(self):
        return b"".join(self.out) + b"\x03\x00"


def gzip_member(raw, crc, size):
    return (b"\x1f\x8b\x08\x00" + b"\x00" * 4 + b"\x00\x03" + raw +
            struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))


def zip_raw(entries):
    """A zip file of (name, method, data, crc, size) members whose data is
    already compressed (method 8) or stored (method 0)."""
    out = io.BytesIO()
    central = []
    for name, method, data, crc, size in entries:
        off = out.tell()
        n = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0,
                              0x21, crc, len(data), size, len(n), 0))
        out.write(n)
        out.write(data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20,
                                   0, method, 0, 0x21, crc, len(data), size,
                                   len(n), 0, 0, 0, 0, 0, off) + n)
    cd_off = out.tell()
    for c in central:
        out.write(c)
    cd_size = out.tell() - cd_off
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries),
                          len(entries), cd_size, cd_off, 0))
    return out.getvalue()


def zip_deflated(members):
    """A zip file of (name, bytes) members, deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return out.getvalue()


def tar_of(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write(name, data):
    with open(name, "wb") as f:
        f.write(data)


def samples(eicar):
    hello = b"hello, this member is harmless\n"
    gz = lambda b: gzip.compress(b, mtime=0)
    # gzip -c hello.txt > m.gz; gzip -c eicar.com >> m.gz
    write("two-members.gz", gz(hello) + gz(eicar))
    # a .tgz made of two gzip streams, each a whole tar archive
    write("two-streams.tgz", gz(tar_of([("hello.txt", hello)])) +
          gz(tar_of([("eicar.com", eicar)])))
    write("two-streams.bz2", bz2.compress(hello) + bz2.compress(eicar))
    write("two-streams.xz", lzma.compress(hello) + lzma.compress(eicar))
    write("appended.zip", zip_deflated([("hello.txt", hello)]) + eicar)
    # the end record's signature is there, the rest of the record is not
    write("cut-end.zip", zip_deflated([("hello.txt", hello)])[:-10])
    write("appended.tar", tar_of([("hello.txt", hello)]) + eicar)
    write("appended.gz", gz(hello) + eicar)
    write("truncated.gz", gz(eicar)[:30])
    deflate, crc = zeros_deflate(1024)
    write("zeros-head.gz", gzip_member(deflate, crc, 1 << 30)[:300])
    bad = bytearray(gz(eicar))
    bad[-8] ^= 0x01  # the CRC-32 trailer
    write("bad-crc.gz", bytes(bad))
    write("clean-two-members.gz", gz(hello) + gz(b"another harmless line\n"))
    # 20 MiB of zeros: past the ratio limit's 16 MiB floor, at ~1000:1
    deflate, crc = zeros_deflate(20)
    write("zeros-20m.gz", gzip_member(deflate, crc, 20 * MiB))


def bombs():
    deflate, crc = zeros_deflate(1024)
    # gzip of 1 GiB of zeros
    write("bomb-1g.gz", gzip_member(deflate, crc, 1 << 30))
    # a zip whose one member declares (and holds) 1 GiB of zeros
    leaf = zip_raw([("zeros.bin", 8, deflate, crc, 1 << 30)])
    write("bomb-1g.zip", leaf)
    # 42-style: 16 zips per layer, 3 layers, 1 GiB of zeros at the bottom
    layer = leaf
    for _ in range(2):
        layer = zip_deflated([("%x.zip" % i, layer) for i in range(16)])
    write("bomb-42.zip", layer)
    # bzip2 and xz of 1 GiB of zeros: 16 streams of 64 MiB each, one
    # compressed and repeated (compressing 1 GiB of zeros takes seconds)
    write("bomb-1g.bz2", bz2.compress(bytes(64 * MiB), 9) * 16)
    write("bomb-1g.xz", lzma.compress(bytes(64 * MiB), preset=0) * 16)
    # a tar.gz of three files of 300 MiB of zeros
    d = Deflater()
    for i in range(3):
        info = tarfile.TarInfo("zeros%d.bin" % i)
        info.size = 300 * MiB
        info.mtime = 0
        d.data(info.tobuf(format=tarfile.USTAR_FORMAT))
        d.zeros_mib(300)
    d.data(bytes(1024))
    write("bomb-zeros.tar.gz", gzip_member(d.finish(), d.crc, d.size))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: mkstreams.py EICAR_FILE [bombs]")
    with open(sys.argv[1], "rb") as f:
        eicar_bytes = f.read()
    samples(eicar_bytes)
    if "bombs" in sys.argv[2:]:
        bombs()
