#!/usr/bin/python3
"""Reference dequantization of GGUF's block types, for tests/test_quant.c.

Written from the block layouts as the GGUF format defines them (ggml's
block_q8_0, block_q4_K, block_q5_K, block_q6_K; sizes in bytes):

  Q8_0  32 weights, 34 B:  f16 d, int8 q[32]                     w = d * q
  Q4_K  256 weights, 144 B: f16 d, f16 dmin, u8 scales[12], u8 qs[128]
        sub-block j (32 weights) has a 6-bit scale s_j and min m_j,
        w = (d * s_j) * q - (dmin * m_j), q in 0..15, weight 32j + l is the
        low nibble of qs[32 (j // 2) + l] for even j, the high one for odd j
  Q5_K  256 weights, 176 B: f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
        as Q4_K, and bit j of qh[l] is bit 4 of weight 32j + l (q in 0..31)
  Q6_K  256 weights, 210 B: u8 ql[128], u8 qh[64], int8 scales[16], f16 d
        group g (16 weights) has scale s_g, w = (d * s_g) * (q - 32), q in 0..63;
        in half h (128 weights), weight 128h + 32k + l (k = 0..3, l < 32) has
        low 4 bits from ql[64h + l + 32 (k % 2)] (low nibble for k < 2, high
        for k >= 2) and high 2 bits (qh[32h + l] >> 2k) & 3
  6-bit scales/mins in 12 bytes b: j < 4: s = b[j] & 63, m = b[j+4] & 63;
  j >= 4: s = (b[j+4] & 15) | (b[j-4] >> 6) << 4, m = (b[j+4] >> 4) | (b[j] >> 6) << 4

Every product is rounded to float32 in the order written above (numpy
float32 arithmetic), so a C implementation without fused multiply-adds
gives the same bits.  The blocks are random bytes with the f16 scales
drawn from ordinary values and extremes: 0, +-65504 (f16 max), the
smallest subnormal 2^-24, negative d and dmin.

Output (tests/fixtures/quant/ref.bin, the EEFR format of tests/ref_fixture.h:
b"EEFR", u32 version=1, u32 count, per tensor u32 name length, name,
u32 ndim, u32 dims..., f32 data): for each type T, "T.blocks" [n, bytes]
(each byte as a float) and "T.values" [n, weights].

Run: /usr/bin/python3 tests/ref/make_quant_ref.py   (numpy only)
"""
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "quant", "ref.bin")
F32 = np.float32
EXTREME = [0.0, 65504.0, -65504.0, 2.0 ** -24, -(2.0 ** -24), 1.0, -3.5, 2.0 ** -14]


def f16(raw):
    """u16 bytes (little-endian) -> float32 values"""
    return np.frombuffer(raw.tobytes(), dtype="<f2").astype(F32)


def scales_mins(b):
    """b [n, 12] -> s, m [n, 8]"""
    b = b.astype(np.int64)
    s = np.zeros((b.shape[0], 8), np.int64)
    m = np.zeros((b.shape[0], 8), np.int64)
    for j in range(8):
        if j < 4:
            s[:, j] = b[:, j] & 63
            m[:, j] = b[:, j + 4] & 63
        else:
            s[:, j] = (b[:, j + 4] & 15) | ((b[:, j - 4] >> 6) << 4)
            m[:, j] = (b[:, j + 4] >> 4) | ((b[:, j] >> 6) << 4)
    return s, m


def set_f16(blocks, off, values):
    raw = np.asarray(values, dtype="<f2").view(np.uint8).reshape(-1, 2)
    blocks[:, off:off + 2] = raw


def random_scales(rng, n):
    v = rng.normal(0, 0.05, n).astype(np.float32)
    pick = rng.integers(0, 3, n) == 0
    v[pick] = rng.choice(EXTREME, pick.sum())
    return v


def q8_0(rng, n):
    blocks = rng.integers(0, 256, (n, 34), dtype=np.uint8)
    set_f16(blocks, 0, random_scales(rng, n))
    d = f16(blocks[:, 0:2])
    q = blocks[:, 2:].view(np.int8).astype(F32)
    return blocks, d[:, None] * q


def k_sub_codes(qs, j):
    """the 4-bit codes of sub-block j: [n, 32]"""
    byte = qs[:, 32 * (j // 2): 32 * (j // 2) + 32].astype(np.int64)
    return (byte >> (4 * (j % 2))) & 15


def q4_k(rng, n, five=False):
    size = 176 if five else 144
    blocks = rng.integers(0, 256, (n, size), dtype=np.uint8)
    set_f16(blocks, 0, random_scales(rng, n))
    set_f16(blocks, 2, random_scales(rng, n))
    d, dmin = f16(blocks[:, 0:2]), f16(blocks[:, 2:4])
    s, m = scales_mins(blocks[:, 4:16])
    qh = blocks[:, 16:48].astype(np.int64) if five else None
    qs = blocks[:, 48:176] if five else blocks[:, 16:144]
    out = np.zeros((n, 256), F32)
    for j in range(8):
        q = k_sub_codes(qs, j)
        if five:
            q = q | (((qh >> j) & 1) << 4)
        dj = d * s[:, j].astype(F32)
        mj = dmin * m[:, j].astype(F32)
        out[:, 32 * j:32 * j + 32] = dj[:, None] * q.astype(F32) - mj[:, None]
    return blocks, out


def q6_k(rng, n):
    blocks = rng.integers(0, 256, (n, 210), dtype=np.uint8)
    set_f16(blocks, 208, random_scales(rng, n))
    ql = blocks[:, 0:128].astype(np.int64)
    qh = blocks[:, 128:192].astype(np.int64)
    sc = blocks[:, 192:208].view(np.int8).astype(F32)
    d = f16(blocks[:, 208:210])
    out = np.zeros((n, 256), F32)
    for h in range(2):
        for k in range(4):
            for l in range(32):
                e = 128 * h + 32 * k + l
                lowbyte = ql[:, 64 * h + l + 32 * (k % 2)]
                low = (lowbyte & 15) if k < 2 else (lowbyte >> 4)
                high = (qh[:, 32 * h + l] >> (2 * k)) & 3
                q = (low | (high << 4)) - 32
                out[:, e] = (d * sc[:, e // 16]) * q.astype(F32)
    return blocks, out


def main():
    rng = np.random.default_rng(20)
    tensors = []
    for name, (blocks, values) in [
        ("Q8_0", q8_0(rng, 48)),
        ("Q4_K", q4_k(rng, 24)),
        ("Q5_K", q4_k(rng, 24, five=True)),
        ("Q6_K", q6_k(rng, 24)),
    ]:
        tensors.append((name + ".blocks", blocks.astype(F32)))
        tensors.append((name + ".values", values.astype(F32)))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        f.write(b"EEFR" + struct.pack("<II", 1, len(tensors)))
        for name, t in tensors:
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<I", t.ndim))
            f.write(struct.pack("<%dI" % t.ndim, *t.shape))
            f.write(np.ascontiguousarray(t, dtype="<f4").tobytes())
    print("wrote", OUT)


if __name__ == "__main__":
    main()
