// Separable correlation (Gaussian, box, Sobel): a row pass into a packed intermediate of
// type H, then a column pass accumulating in V and converting to the output type O.
// Defines: T (input), H (row sums and row taps), V (column sums and column taps), O (output),
// O_FLOAT (1 when O is float).

// Row pass over image rows only: tmp[y][x][ch] = sum_i kx[i] * src(y, map(x + i - r)).
__kernel void sep_rows(__global const T* src, VIEW_ARGS(s), int w, int h, int c,
                       __global const H* kx, int kn, int mode, T cval, __global H* tmp) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    int r = kn / 2;
    for (int ch = 0; ch < c; ch++) {
        H acc = 0;
        for (int i = 0; i < kn; i++) {
            int sx = map_index(x + i - r, w, mode);
            T v = sx < 0 ? cval : src[AT(s, y, sx, ch)];
            acc = acc + kx[i] * (H)v;
        }
        tmp[((ulong)y * w + x) * c + ch] = acc;
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

// Column pass: acc = sum_j ky[j] * tmp(map(y + j - r), x), then the finishing conversion.
// Rows outside a constant border hold sum_i kx[i] * cval (computed like the row pass).
// Integer modes use ia/ib (scale/delta or divisor constants), real modes fa/fb; omax is the
// saturation bound of integer outputs (omin the lower one).
__kernel void sep_cols(__global const H* tmp, int w, int h, int c,
                       __global const H* kx, int kxn, __global const V* ky, int kn, int mode,
                       T cval, int finish, long ia, long ib, real fa, real fb, long omin,
                       long omax, __global O* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    int r = kn / 2;
    H hconst = 0;
    for (int i = 0; i < kxn; i++) hconst = hconst + kx[i] * (H)cval;
    for (int ch = 0; ch < c; ch++) {
        V acc = 0;
        for (int j = 0; j < kn; j++) {
            int sy = map_index(y + j - r, h, mode);
            H hv = sy < 0 ? hconst : tmp[((ulong)sy * w + x) * c + ch];
            acc = acc + ky[j] * (V)hv;
        }
        O out;
#if O_FLOAT
        if (finish == F_SCALE_DELTA) out = (O)((real)acc * fa + fb);
        else if (finish == F_SCALE) out = (O)((real)acc * fa);
        else out = (O)acc;
#else
        long v;
        if (finish == F_GAUSS8) v = (long)(((ulong)acc + 32768UL) >> 16);
        else if (finish == F_GAUSS16) v = (long)(((ulong)acc + 2147483648UL) >> 32);
        else if (finish == F_I16_INT) v = (long)acc * ia + ib;
        else if (finish == F_I16_REAL) {
            real f = rint((real)acc * fa + fb);
            v = f < (real)omin ? omin : (f > (real)omax ? omax : (long)f);
        }
        else if (finish == F_BOX_FAST) v = (long)((((ulong)acc + (ulong)ib) * (ulong)ia) >> 23);
        else if (finish == F_BOX_ROUND) v = ((long)acc + ia / 2) / ia;
        else v = (long)acc;
        v = v < omin ? omin : (v > omax ? omax : v);
        out = (O)v;
#endif
        dst[AT(d, y, x, ch)] = out;
    }
}
