// Erosion / dilation. Define: T. `is_min` selects erosion (minimum) or dilation (maximum).
// Outside pixels follow `mode` (map_index); with the constant mode they read `cval`, which is
// the neutral value (dtype max for erosion, min for dilation) for OpenCV's default border.

inline T pick(T a, T b, int is_min) {
    if (is_min) return b < a ? b : a;
    return b > a ? b : a;
}

// Rect element, horizontal pass: tmp[y][x][ch] = extremum over sx in x-r..x+r.
__kernel void rect_rows(__global const T* src, VIEW_ARGS(s), int w, int h, int c, int k,
                        int mode, T cval, int is_min, __global T* tmp) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    int r = k / 2;
    for (int ch = 0; ch < c; ch++) {
        T acc = cval;
        int first = 1;
        for (int i = 0; i < k; i++) {
            int sx = map_index(x + i - r, w, mode);
            T v = sx < 0 ? cval : src[AT(s, y, sx, ch)];
            acc = first ? v : pick(acc, v, is_min);
            first = 0;
        }
        tmp[((ulong)y * w + x) * c + ch] = acc;
    }
}

// Rect element, vertical pass over the horizontal extrema; rows outside a constant border
// are rows of `cval`.
__kernel void rect_cols(__global const T* tmp, int w, int h, int c, int k, int mode, T cval,
                        int is_min, __global T* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    int r = k / 2;
    for (int ch = 0; ch < c; ch++) {
        T acc = cval;
        for (int j = 0; j < k; j++) {
            int sy = map_index(y + j - r, h, mode);
            T v = sy < 0 ? cval : tmp[((ulong)sy * w + x) * c + ch];
            acc = j == 0 ? v : pick(acc, v, is_min);
        }
        dst[AT(d, y, x, ch)] = acc;
    }
}

// Level 0 of the sparse tables: every image row padded by r pixels on both sides
// (table[y][px][ch], px in 0..w+2r).
__kernel void table_level0(__global const T* src, VIEW_ARGS(s), int w, int h, int c, int r,
                           int mode, T cval, __global T* table) {
    int px = get_global_id(0), y = get_global_id(1);
    int wp = w + 2 * r;
    if (px >= wp || y >= h) return;
    int sx = map_index(px - r, w, mode);
    for (int ch = 0; ch < c; ch++) {
        T v = sx < 0 ? cval : src[AT(s, y, sx, ch)];
        table[((ulong)y * wp + px) * c + ch] = v;
    }
}

// Level p from level p-1: extremum of pixels px .. px + 2^p (valid where px + 2^p <= wp).
__kernel void table_level(__global T* table, int w, int h, int c, int r, int p, int is_min) {
    int px = get_global_id(0), y = get_global_id(1);
    int wp = w + 2 * r;
    int step = 1 << (p - 1);
    if (px + 2 * step > wp || y >= h) return;
    ulong plane = (ulong)h * wp * c;
    __global const T* prev = table + (ulong)(p - 1) * plane;
    __global T* cur = table + (ulong)p * plane;
    for (int ch = 0; ch < c; ch++) {
        ulong i = ((ulong)y * wp + px) * c + ch;
        cur[i] = pick(prev[i], prev[i + (ulong)step * c], is_min);
    }
}

// Any element with one run [a, b) per row: runs[i] = (a, b, level, 0) with level =
// floor(log2(b - a)); an empty row has a == b. Two table reads per element row.
__kernel void runs_apply(__global const T* table, int w, int h, int c, int k,
                         __global const int4* runs, int mode, T cval, int is_min,
                         __global T* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    int r = k / 2;
    int wp = w + 2 * r;
    ulong plane = (ulong)h * wp * c;
    for (int ch = 0; ch < c; ch++) {
        T acc = cval;
        int first = 1;
        for (int i = 0; i < k; i++) {
            int4 run = runs[i];
            if (run.y <= run.x) continue;
            int sy = map_index(y + i - r, h, mode);
            T v;
            if (sy < 0) {
                v = cval;
            } else {
                __global const T* lvl = table + (ulong)run.z * plane + (ulong)sy * wp * c;
                T u = lvl[(ulong)(x + run.x) * c + ch];
                T t = lvl[(ulong)(x + run.y - (1 << run.z)) * c + ch];
                v = pick(u, t, is_min);
            }
            acc = first ? v : pick(acc, v, is_min);
            first = 0;
        }
        dst[AT(d, y, x, ch)] = acc;
    }
}

// dst = a - b, saturating at 0 for unsigned types (OpenCV Mat subtraction).
__kernel void difference(__global const T* a, VIEW_ARGS(a), __global const T* b, VIEW_ARGS(b),
                         int w, int h, int c, __global T* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
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
__kernel void copy_view(__global const T* src, VIEW_ARGS(s), int w, int h, int c,
                        __global T* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    for (int ch = 0; ch < c; ch++) dst[AT(d, y, x, ch)] = src[AT(s, y, x, ch)];
}
