// Median filter, replicate border. Define: T, T_FLOAT. Floats are ordered by their IEEE
// total-order key (as the CPU backend's f32 median), integers by value.

#if T_FLOAT
typedef int mkey_t;
__device__ __forceinline__ mkey_t to_key(T v) {
    int b = __float_as_int(v);
    return b ^ (int)(((unsigned)(b >> 31)) >> 1);
}
__device__ __forceinline__ T from_key(mkey_t k) {
    return __int_as_float(k ^ (int)(((unsigned)(k >> 31)) >> 1));
}
#else
typedef T mkey_t;
__device__ __forceinline__ mkey_t to_key(T v) { return v; }
__device__ __forceinline__ T from_key(mkey_t k) { return k; }
#endif

// k = 3 or 5: gather the window, then select the element of rank (k*k-1)/2.
KERNEL void median_small(const T* __restrict__ src, VIEW_ARGS(s), int w, int h, int c, int k,
                         T* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int r = k / 2, n = k * k, rank = (n - 1) / 2;
    mkey_t win[25];
    for (int ch = 0; ch < c; ch++) {
        int m = 0;
        for (int j = -r; j <= r; j++) {
            int sy = clamp_int(y + j, 0, h - 1);
            for (int i = -r; i <= r; i++) {
                int sx = clamp_int(x + i, 0, w - 1);
                win[m++] = to_key(src[AT(s, sy, sx, ch)]);
            }
        }
        // Partial selection sort up to the median rank.
        for (int a = 0; a <= rank; a++) {
            int best = a;
            for (int b = a + 1; b < n; b++) if (win[b] < win[best]) best = b;
            mkey_t t = win[a]; win[a] = win[best]; win[best] = t;
        }
        dst[AT(d, y, x, ch)] = from_key(win[rank]);
    }
}

// u8, any odd k: a 256-bin histogram of the window. With the replicate border the window
// reads each in-image row and column a known number of times, so the histogram is built from
// the distinct pixels (at most min(k, h) x min(k, w)) with those multiplicities.
KERNEL void median_hist(const u8* __restrict__ src, VIEW_ARGS(s), int w, int h, int c, int k,
                        u8* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int r = k / 2;
    u32 rank = ((u32)k * (u32)k - 1) / 2;
    int y0 = max(y - r, 0), y1 = min(y + r, h - 1);
    int x0 = max(x - r, 0), x1 = min(x + r, w - 1);
    u32 hist[256];
    for (int ch = 0; ch < c; ch++) {
        for (int b = 0; b < 256; b++) hist[b] = 0;
        for (int sy = y0; sy <= y1; sy++) {
            // Rows above/below the image replicate the first/last row.
            u32 my = 1;
            if (sy == 0) my += (u32)max(r - y, 0);
            if (sy == h - 1) my += (u32)max(y + r - (h - 1), 0);
            for (int sx = x0; sx <= x1; sx++) {
                u32 mx = 1;
                if (sx == 0) mx += (u32)max(r - x, 0);
                if (sx == w - 1) mx += (u32)max(x + r - (w - 1), 0);
                hist[src[AT(s, sy, sx, ch)]] += my * mx;
            }
        }
        u32 seen = 0;
        int b = 0;
        for (; b < 256; b++) {
            seen += hist[b];
            if (seen > rank) break;
        }
        dst[AT(d, y, x, ch)] = (u8)b;
    }
}
