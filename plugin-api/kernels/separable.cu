// Separable correlation (Gaussian, box, Sobel): a row pass into a packed intermediate of
// type H, then a column pass accumulating in V and converting to the output type O.
// Defines: T (input), H (row sums and row taps), V (column sums and column taps), O (output),
// O_FLOAT (1 when O is float).

// Row pass, one block per row segment of blockDim.x pixels: the segment and its 2r halo
// (border applied) are staged in shared memory once, then every thread reads its kn taps
// from there. tmp[y][x][ch] = sum_i kx[i] * src(y, map(x + i - r)), from 0 in tap order; with
// symm (symmetric taps, the f32 Gaussian) kx[r] * src(x) + sum_{i=1..r} kx[r + i] *
// (src(x - i) + src(x + i)) in that order, as the CPU backend sums it. Blocks step over rows by
// gridDim.y (at most 65535), so any height works.
// Shared memory: (blockDim.x + kn - 1) * c * sizeof(T) bytes.
KERNEL void sep_rows(const T* __restrict__ src, VIEW_ARGS(s), int w, int h, int c,
                     const H* __restrict__ kx, int kn, int symm, int mode, T cval,
                     H* __restrict__ tmp) {
    DYNAMIC_SHARED(smem_raw);
    T* tile = (T*)smem_raw;
    int r = kn / 2;
    int x0 = blockIdx.x * blockDim.x;
    int x = x0 + threadIdx.x;
    int total = (blockDim.x + kn - 1) * c;
    for (int y = blockIdx.y; y < h; y += gridDim.y) {
        for (int i = threadIdx.x; i < total; i += blockDim.x) {
            int px = i / c, ch = i - px * c;
            int sx = map_index(x0 + px - r, w, mode);
            tile[i] = sx < 0 ? cval : src[AT(s, y, sx, ch)];
        }
        __syncthreads();
        if (x < w) {
            for (int ch = 0; ch < c; ch++) {
                const T* at = tile + (threadIdx.x + r) * c + ch;
                H acc;
                if (symm) {
                    acc = kx[r] * (H)at[0];
                    for (int i = 1; i <= r; i++) {
                        acc = acc + kx[r + i] * ((H)at[-i * c] + (H)at[i * c]);
                    }
                } else {
                    acc = 0;
                    for (int i = 0; i < kn; i++) acc = acc + kx[i] * (H)at[(i - r) * c];
                }
                tmp[((u64)y * w + x) * c + ch] = acc;
            }
        }
        // The next row's staging overwrites the tile.
        __syncthreads();
    }
}

// Finishing modes (the host's Finish enum).
#define F_GAUSS8 0
#define F_GAUSS16 1
#define F_CAST 2
#define F_I16_INT 3
#define F_I16_REAL 4
#define F_SCALE_DELTA 5
#define F_BOX_FAST 6
#define F_BOX_ROUND 7
#define F_BOX_SAT 8
#define F_SCALE 9

// Column pass: acc = sum_j ky[j] * tmp(map(y + j - r), x) (with symm: in pairs, as the row
// pass), then the finishing conversion.
// Neighbouring threads read neighbouring columns, so the reads coalesce and the kn-fold
// reuse of each row is served by L1/L2. Rows outside a constant border hold the row sum of a
// row of cval, summed as the row pass sums. Integer modes use ia/ib (scale/delta or divisor
// constants), real modes fa/fb; omin/omax are the saturation bounds of integer outputs.
KERNEL void sep_cols(const H* __restrict__ tmp, int w, int h, int c,
                     const H* __restrict__ kx, int kxn, const V* __restrict__ ky, int kn,
                     int symm, int mode, T cval, int finish, i64 ia, i64 ib, f64 fa, f64 fb,
                     i64 omin, i64 omax, O* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int r = kn / 2;
    H hconst;
    if (symm) {
        int rx = kxn / 2;
        hconst = kx[rx] * (H)cval;
        for (int i = 1; i <= rx; i++) hconst = hconst + kx[rx + i] * ((H)cval + (H)cval);
    } else {
        hconst = 0;
        for (int i = 0; i < kxn; i++) hconst = hconst + kx[i] * (H)cval;
    }
    for (int ch = 0; ch < c; ch++) {
        // The row sum d rows below (above, when negative) this one.
#define SEP_ROW(d) (map_index(y + (d), h, mode) < 0 ? hconst \
                    : tmp[((u64)map_index(y + (d), h, mode) * w + x) * c + ch])
        V acc;
        if (symm) {
            acc = ky[r] * (V)SEP_ROW(0);
            for (int j = 1; j <= r; j++) {
                acc = acc + ky[r + j] * ((V)SEP_ROW(-j) + (V)SEP_ROW(j));
            }
        } else {
            acc = 0;
            for (int j = 0; j < kn; j++) acc = acc + ky[j] * (V)SEP_ROW(j - r);
        }
#undef SEP_ROW
        O out;
#if O_FLOAT
        if (finish == F_SCALE_DELTA) out = (O)((f64)acc * fa + fb);
        else if (finish == F_SCALE) out = (O)((f64)acc * fa);
        else out = (O)acc;
#else
        i64 v;
        if (finish == F_GAUSS8) v = (i64)(((u64)acc + 32768ULL) >> 16);
        else if (finish == F_GAUSS16) v = (i64)(((u64)acc + 2147483648ULL) >> 32);
        else if (finish == F_I16_INT) v = (i64)acc * ia + ib;
        else if (finish == F_I16_REAL) {
            f64 f = rint((f64)acc * fa + fb);
            v = f < (f64)omin ? omin : (f > (f64)omax ? omax : (i64)f);
        }
        else if (finish == F_BOX_FAST) v = (i64)((((u64)acc + (u64)ib) * (u64)ia) >> 23);
        else if (finish == F_BOX_ROUND) v = ((i64)acc + ia / 2) / ia;
        else v = (i64)acc;
        v = v < omin ? omin : (v > omax ? omax : v);
        out = (O)v;
#endif
        dst[AT(d, y, x, ch)] = out;
    }
}
