// Separable correlation (Gaussian, box, Sobel): a row pass into a packed intermediate of
// type H, then a column pass accumulating in V and converting to the output type O.
// Defines: T (input), H (row sums and row taps), V (column sums and column taps), O (output),
// O_FLOAT (1 when O is float).

// Row pass over image rows only: tmp[y][x][ch] = sum_i kx[i] * src(y, map(x + i - r)), from 0
// in tap order; with symm (symmetric taps, the f32 Gaussian) kx[r] * src(x) + sum_{i=1..r}
// kx[r + i] * (src(x - i) + src(x + i)) in that order, as the CPU backend sums it.
__kernel void sep_rows(__global const T* src, VIEW_ARGS(s), int w, int h, int c,
                       __global const H* kx, int kn, int symm, int mode, T cval,
                       __global H* tmp) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    int r = kn / 2;
    for (int ch = 0; ch < c; ch++) {
        // The source pixel d columns right (left, when negative) of this one.
#define SEP_PX(d) (map_index(x + (d), w, mode) < 0 ? cval \
                   : src[AT(s, y, map_index(x + (d), w, mode), ch)])
        H acc;
        if (symm) {
            acc = kx[r] * (H)SEP_PX(0);
            for (int i = 1; i <= r; i++) acc = acc + kx[r + i] * ((H)SEP_PX(-i) + (H)SEP_PX(i));
        } else {
            acc = 0;
            for (int i = 0; i < kn; i++) acc = acc + kx[i] * (H)SEP_PX(i - r);
        }
#undef SEP_PX
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

// Column pass: acc = sum_j ky[j] * tmp(map(y + j - r), x) (with symm: in pairs, as the row
// pass), then the finishing conversion. Rows outside a constant border hold the row sum of a
// row of cval, summed as the row pass sums.
// Integer modes use ia/ib (scale/delta or divisor constants), real modes fa/fb; omax is the
// saturation bound of integer outputs (omin the lower one).
__kernel void sep_cols(__global const H* tmp, int w, int h, int c,
                       __global const H* kx, int kxn, __global const V* ky, int kn, int symm,
                       int mode, T cval, int finish, long ia, long ib, real fa, real fb, long omin,
                       long omax, __global O* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
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
                    : tmp[((ulong)map_index(y + (d), h, mode) * w + x) * c + ch])
        V acc;
        if (symm) {
            acc = ky[r] * (V)SEP_ROW(0);
            for (int j = 1; j <= r; j++) acc = acc + ky[r + j] * ((V)SEP_ROW(-j) + (V)SEP_ROW(j));
        } else {
            acc = 0;
            for (int j = 0; j < kn; j++) acc = acc + ky[j] * (V)SEP_ROW(j - r);
        }
#undef SEP_ROW
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
