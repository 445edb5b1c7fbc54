// Thresholds. Define: T, T_FLOAT. Integer types go through a lookup table built on the host
// (the same table as the CPU backend's), f32 compares in float.

#if !T_FLOAT
KERNEL void lut_apply(const T* __restrict__ src, VIEW_ARGS(s), int w, int h,
                      const T* __restrict__ lut, T* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    dst[AT(d, y, x, 0)] = lut[src[AT(s, y, x, 0)]];
}

// Counts of each value (`bins` = 256 for u8, 65536 for u16), for Otsu's method. Blocks stride
// down the rows (the host launches few), so each thread counts many pixels. For 256 bins each
// row of threads counts into its own shared table (neighbouring pixels often share a value,
// and one table per block would serialise them), and the tables go to global memory once per
// block. Shared memory: 256 * 4 * blockDim.y bytes when bins == 256, else none.
KERNEL void histogram(const T* __restrict__ src, VIEW_ARGS(s), int w, int h, int bins,
                      u32* __restrict__ hist) {
    DYNAMIC_SHARED(smem_raw);
    u32* tables = (u32*)smem_raw;
    int tid = threadIdx.y * blockDim.x + threadIdx.x;
    int nthreads = blockDim.x * blockDim.y;
    bool shared = bins == 256;
    u32* mine = tables + 256 * threadIdx.y;
    if (shared) {
        for (int i = tid; i < 256 * (int)blockDim.y; i += nthreads) tables[i] = 0;
        __syncthreads();
    }
    int x = GX;
    if (x < w) {
        for (int y = GY; y < h; y += gridDim.y * blockDim.y) {
            u32 v = (u32)src[AT(s, y, x, 0)];
            if (shared) atomicAdd(&mine[v], 1u);
            else atomicAdd(&hist[v], 1u);
        }
    }
    if (shared) {
        __syncthreads();
        for (int i = tid; i < 256; i += nthreads) {
            u32 sum = 0;
            for (int r = 0; r < (int)blockDim.y; r++) sum += tables[256 * r + i];
            if (sum != 0) atomicAdd(&hist[i], sum);
        }
    }
}

// Adaptive threshold (u8): `mean` is the packed local mean; binary (inv 0) writes imax where
// src - mean > -idelta, binary_inv (inv 1) where src - mean <= -idelta, else 0.
KERNEL void adaptive_cmp(const u8* __restrict__ src, VIEW_ARGS(s), const u8* __restrict__ mean,
                         int w, int h, int idelta, int inv, u8 imax, u8* __restrict__ dst,
                         VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int diff = (int)src[AT(s, y, x, 0)] - (int)mean[(u64)y * w + x];
    int pass = inv ? diff <= -idelta : diff > -idelta;
    dst[AT(d, y, x, 0)] = pass ? imax : (u8)0;
}
#endif

#if T_FLOAT
// f32: kind 0 binary, 1 binary_inv, 2 trunc, 3 tozero, 4 tozero_inv.
KERNEL void thresh_f32(const f32* __restrict__ src, VIEW_ARGS(s), int w, int h, f32 t, f32 m,
                       int kind, f32* __restrict__ dst, VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    f32 v = src[AT(s, y, x, 0)], o;
    if (kind == 0) o = v > t ? m : 0.0f;
    else if (kind == 1) o = v <= t ? m : 0.0f;
    else if (kind == 2) o = v > t ? t : v;
    else if (kind == 3) o = v > t ? v : 0.0f;
    else o = v <= t ? v : 0.0f;
    dst[AT(d, y, x, 0)] = o;
}
#endif
