// Median filter, replicate border. Define: T, T_FLOAT. Floats are ordered by their IEEE
// total-order key (as the CPU backend's f32 median), integers by value.

#if T_FLOAT
typedef int key_t;
inline key_t to_key(T v) { int b = as_int(v); return b ^ (int)(((uint)(b >> 31)) >> 1); }
inline T from_key(key_t k) { return as_float(k ^ (int)(((uint)(k >> 31)) >> 1)); }
#else
typedef T key_t;
inline key_t to_key(T v) { return v; }
inline T from_key(key_t k) { return k; }
#endif

// k = 3 or 5: gather the window, then select the element of rank (k*k-1)/2.
__kernel void median_small(__global const T* src, VIEW_ARGS(s), int w, int h, int c, int k,
                           __global T* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    int r = k / 2, n = k * k, rank = (n - 1) / 2;
    key_t win[25];
    for (int ch = 0; ch < c; ch++) {
        int m = 0;
        for (int j = -r; j <= r; j++) {
            int sy = clamp(y + j, 0, h - 1);
            for (int i = -r; i <= r; i++) {
                int sx = clamp(x + i, 0, w - 1);
                win[m++] = to_key(src[AT(s, sy, sx, ch)]);
            }
        }
        // Partial selection sort up to the median rank.
        for (int a = 0; a <= rank; a++) {
            int best = a;
            for (int b = a + 1; b < n; b++) if (win[b] < win[best]) best = b;
            key_t t = win[a]; win[a] = win[best]; win[best] = t;
        }
        dst[AT(d, y, x, ch)] = from_key(win[rank]);
    }
}

// u8, any odd k: a 256-bin histogram of the window. With the replicate border the window
// reads each in-image row and column a known number of times, so the histogram is built from
// the distinct pixels (at most min(k, h) x min(k, w)) with those multiplicities.
__kernel void median_hist(__global const uchar* src, VIEW_ARGS(s), int w, int h, int c, int k,
                          __global uchar* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    int r = k / 2;
    uint rank = ((uint)k * (uint)k - 1) / 2;
    int y0 = max(y - r, 0), y1 = min(y + r, h - 1);
    int x0 = max(x - r, 0), x1 = min(x + r, w - 1);
    uint hist[256];
    for (int ch = 0; ch < c; ch++) {
        for (int b = 0; b < 256; b++) hist[b] = 0;
        for (int sy = y0; sy <= y1; sy++) {
            // Rows above/below the image replicate the first/last row.
            uint my = 1;
            if (sy == 0) my += (uint)max(r - y, 0);
            if (sy == h - 1) my += (uint)max(y + r - (h - 1), 0);
            for (int sx = x0; sx <= x1; sx++) {
                uint mx = 1;
                if (sx == 0) mx += (uint)max(r - x, 0);
                if (sx == w - 1) mx += (uint)max(x + r - (w - 1), 0);
                hist[src[AT(s, sy, sx, ch)]] += my * mx;
            }
        }
        uint seen = 0;
        int b = 0;
        for (; b < 256; b++) {
            seen += hist[b];
            if (seen > rank) break;
        }
        dst[AT(d, y, x, ch)] = (uchar)b;
    }
}
