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

// k = 3 or 5 (a template, so every loop unrolls and the window stays in registers; with a
// run-time k the dynamically indexed window lived in local memory): gather the window, then
// select the element of rank (k*k-1)/2 by compare-exchange passes.
template <int K>
__device__ __forceinline__ void median_window(const T* __restrict__ src, VIEW_ARGS(s), int w,
                                              int h, int c, T* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    const int r = K / 2, n = K * K, rank = (n - 1) / 2;
    int sx[K], sy[K];
#pragma unroll
    for (int i = 0; i < K; i++) {
        sx[i] = clamp_int(x + i - r, 0, w - 1);
        sy[i] = clamp_int(y + i - r, 0, h - 1);
    }
    for (int ch = 0; ch < c; ch++) {
        mkey_t win[n];
#pragma unroll
        for (int j = 0; j < K; j++) {
#pragma unroll
            for (int i = 0; i < K; i++) win[j * K + i] = to_key(src[AT(s, sy[j], sx[i], ch)]);
        }
        // Pass a leaves the a-th smallest in win[a]; the rest keep their values.
#pragma unroll
        for (int a = 0; a <= rank; a++) {
#pragma unroll
            for (int b = a + 1; b < n; b++) {
                mkey_t lo = min(win[a], win[b]), hi = max(win[a], win[b]);
                win[a] = lo;
                win[b] = hi;
            }
        }
        dst[AT(d, y, x, ch)] = from_key(win[rank]);
    }
}

KERNEL void median3(const T* __restrict__ src, VIEW_ARGS(s), int w, int h, int c,
                    T* __restrict__ dst, VIEW_ARGS(d)) {
    median_window<3>(src, s_s0, s_s1, s_s2, w, h, c, dst, d_s0, d_s1, d_s2);
}

KERNEL void median5(const T* __restrict__ src, VIEW_ARGS(s), int w, int h, int c,
                    T* __restrict__ dst, VIEW_ARGS(d)) {
    median_window<5>(src, s_s0, s_s1, s_s2, w, h, c, dst, d_s0, d_s1, d_s2);
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
