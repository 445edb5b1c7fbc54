// Thresholds. Define: T, T_FLOAT. Integer types go through a lookup table built on the host (the same
// table as the CPU backend's), f32 compares in float.

#if !T_FLOAT
__kernel void lut_apply(__global const T* src, VIEW_ARGS(s), int w, int h,
                        __global const T* lut, __global T* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    dst[AT(d, y, x, 0)] = lut[src[AT(s, y, x, 0)]];
}

// Counts of each value (u8: 256 bins, u16: 65536), for Otsu's method.
__kernel void histogram(__global const T* src, VIEW_ARGS(s), int w, int h,
                        __global uint* hist) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    atomic_inc(&hist[src[AT(s, y, x, 0)]]);
}

// Adaptive threshold (u8): `mean` is the packed local mean; binary (inv 0) writes imax where
// src - mean > -idelta, binary_inv (inv 1) where src - mean <= -idelta, else 0.
__kernel void adaptive_cmp(__global const uchar* src, VIEW_ARGS(s), __global const uchar* mean,
                           int w, int h, int idelta, int inv, uchar imax,
                           __global uchar* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    int diff = (int)src[AT(s, y, x, 0)] - (int)mean[(ulong)y * w + x];
    int pass = inv ? diff <= -idelta : diff > -idelta;
    dst[AT(d, y, x, 0)] = pass ? imax : (uchar)0;
}

#endif

#if T_FLOAT
// f32: kind 0 binary, 1 binary_inv, 2 trunc, 3 tozero, 4 tozero_inv.
__kernel void thresh_f32(__global const float* src, VIEW_ARGS(s), int w, int h, float t,
                         float m, int kind, __global float* dst, VIEW_ARGS(d)) {
    int x = get_global_id(0), y = get_global_id(1);
    if (x >= w || y >= h) return;
    float v = src[AT(s, y, x, 0)], o;
    if (kind == 0) o = v > t ? m : 0.0f;
    else if (kind == 1) o = v <= t ? m : 0.0f;
    else if (kind == 2) o = v > t ? t : v;
    else if (kind == 3) o = v > t ? v : 0.0f;
    else o = v <= t ? v : 0.0f;
    dst[AT(d, y, x, 0)] = o;
}
#endif
