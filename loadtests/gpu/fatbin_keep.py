"""Zero every CUDA fatbin entry of a shared library except those for one target, so that the file compresses to
what the device needs (node-llama-cpp's libggml-cuda.so holds PTX for compute 75, 80 and 90 and cubins for sm 86,
89, 120 and 121: 155 MB, 21 MB compressed with PTX 90 alone). The layout stays as it was, so the ELF and the
runtime's fatbin registration are untouched; the driver picks the entry for the GPU (an H200 JIT-compiles PTX 90).

Usage: python3 fatbin_keep.py IN.so OUT.so KIND:ARCH[,KIND:ARCH...]   (KIND 1 = PTX, 2 = cubin; e.g. 1:90)
"""
import struct
import subprocess
import sys

MAGIC = 0xBA55ED50


def section(path, name):
    for line in subprocess.check_output(["readelf", "-SW", path], text=True).splitlines():
        if f" {name} " in line:
            fields = line.split("]")[1].split()
            return int(fields[3], 16), int(fields[4], 16)
    sys.exit(f"{path} has no {name} section")


def main():
    source, target, keep = sys.argv[1], sys.argv[2], {tuple(map(int, k.split(":"))) for k in sys.argv[3].split(",")}
    data = bytearray(open(source, "rb").read())
    offset, size = section(source, ".nv_fatbin")
    position, end, kept, zeroed = offset, offset + size, 0, 0
    while position < end:
        magic, _, header, body = struct.unpack_from("<IHHQ", data, position)
        if magic != MAGIC:  # containers are 8-byte aligned
            position += 8
            continue
        entry, last = position + header, position + header + body
        while entry < last:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, entry)
            arch = struct.unpack_from("<I", data, entry + 28)[0]
            if (kind, arch) in keep:
                kept += 1
            else:
                data[entry + entry_header:entry + entry_header + payload] = bytes(payload)
                zeroed += 1
            entry += entry_header + payload
        position = last
    if kept == 0:
        sys.exit(f"no entry of {sorted(keep)} in {source}")
    open(target, "wb").write(data)
    print(f"{target}: kept {kept} entries, zeroed {zeroed}")


if __name__ == "__main__":
    main()
