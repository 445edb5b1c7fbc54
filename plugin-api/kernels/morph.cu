// Erosion / dilation. Define: T, T_FLOAT. `is_min` selects erosion (minimum) or dilation
// (maximum). Outside pixels follow `mode` (map_index); with the constant mode they read
// `cval`, which is the neutral value (dtype max for erosion, min for dilation) for OpenCV's
// default border.

__device__ __forceinline__ T pick(T a, T b, int is_min) {
    if (is_min) return b < a ? b : a;
    return b > a ? b : a;
}

// Rect element, horizontal pass: tmp[y][x][ch] = extremum over sx in x-r..x+r.
KERNEL void rect_rows(const T* __restrict__ src, VIEW_ARGS(s), int w, int h, int c, int k,
                      int mode, T cval, int is_min, T* __restrict__ tmp) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int r = k / 2;
    for (int ch = 0; ch < c; ch++) {
        T acc = cval;
        for (int i = 0; i < k; i++) {
            int sx = map_index(x + i - r, w, mode);
            T v = sx < 0 ? cval : src[AT(s, y, sx, ch)];
            acc = i == 0 ? v : pick(acc, v, is_min);
        }
        tmp[((u64)y * w + x) * c + ch] = acc;
    }
}

// Rect element, vertical pass over the horizontal extrema; rows outside a constant border
// are rows of `cval`.
KERNEL void rect_cols(const T* __restrict__ tmp, int w, int h, int c, int k, int mode, T cval,
                      int is_min, T* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int r = k / 2;
    for (int ch = 0; ch < c; ch++) {
        T acc = cval;
        for (int j = 0; j < k; j++) {
            int sy = map_index(y + j - r, h, mode);
            T v = sy < 0 ? cval : tmp[((u64)sy * w + x) * c + ch];
            acc = j == 0 ? v : pick(acc, v, is_min);
        }
        dst[AT(d, y, x, ch)] = acc;
    }
}

// Level 0 of the sparse tables: every image row padded by r pixels on both sides
// (table[y][px][ch], px in 0..w+2r).
KERNEL void table_level0(const T* __restrict__ src, VIEW_ARGS(s), int w, int h, int c, int r,
                         int mode, T cval, T* __restrict__ table) {
    int px = GX, y = GY;
    int wp = w + 2 * r;
    if (px >= wp || y >= h) return;
    int sx = map_index(px - r, w, mode);
    for (int ch = 0; ch < c; ch++) {
        T v = sx < 0 ? cval : src[AT(s, y, sx, ch)];
        table[((u64)y * wp + px) * c + ch] = v;
    }
}

// Level p from level p-1: extremum of pixels px .. px + 2^p (valid where px + 2^p <= wp).
KERNEL void table_level(T* table, int w, int h, int c, int r, int p, int is_min) {
    int px = GX, y = GY;
    int wp = w + 2 * r;
    int step = 1 << (p - 1);
    if (px + 2 * step > wp || y >= h) return;
    u64 plane = (u64)h * wp * c;
    const T* prev = table + (u64)(p - 1) * plane;
    T* cur = table + (u64)p * plane;
    for (int ch = 0; ch < c; ch++) {
        u64 i = ((u64)y * wp + px) * c + ch;
        cur[i] = pick(prev[i], prev[i + (u64)step * c], is_min);
    }
}

// Any element with one run [a, b) per row: runs[4i..4i+4] = (a, b, level, 0) with level =
// floor(log2(b - a)); an empty row has a == b. Two table reads per element row.
KERNEL void runs_apply(const T* __restrict__ table, int w, int h, int c, int k,
                       const int* __restrict__ runs, int mode, T cval, int is_min,
                       T* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int r = k / 2;
    int wp = w + 2 * r;
    u64 plane = (u64)h * wp * c;
    for (int ch = 0; ch < c; ch++) {
        T acc = cval;
        int first = 1;
        for (int i = 0; i < k; i++) {
            int a = runs[4 * i], b = runs[4 * i + 1], level = runs[4 * i + 2];
            if (b <= a) continue;
            int sy = map_index(y + i - r, h, mode);
            T v;
            if (sy < 0) {
                v = cval;
            } else {
                const T* lvl = table + (u64)level * plane + (u64)sy * wp * c;
                T u = lvl[(u64)(x + a) * c + ch];
                T t = lvl[(u64)(x + b - (1 << level)) * c + ch];
                v = pick(u, t, is_min);
            }
            acc = first ? v : pick(acc, v, is_min);
            first = 0;
        }
        dst[AT(d, y, x, ch)] = acc;
    }
}

// dst = a - b, saturating at 0 for unsigned types (OpenCV Mat subtraction).
KERNEL void difference(const T* __restrict__ a, VIEW_ARGS(a), const T* __restrict__ b,
                       VIEW_ARGS(b), int w, int h, int c, T* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    for (int ch = 0; ch < c; ch++) {
        T u = a[AT(a, y, x, ch)], v = b[AT(b, y, x, ch)];
#if T_FLOAT
        dst[AT(d, y, x, ch)] = u - v;
#else
        dst[AT(d, y, x, ch)] = u > v ? (T)(u - v) : (T)0;
#endif
    }
}

// dst = src (an element of size 1 or no iterations).
KERNEL void copy_view(const T* __restrict__ src, VIEW_ARGS(s), int w, int h, int c,
                      T* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    for (int ch = 0; ch < c; ch++) dst[AT(d, y, x, ch)] = src[AT(s, y, x, ch)];
}
