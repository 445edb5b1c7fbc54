// Shared by every yam GPU program (prepended to each source by the host). Written once for
// CUDA (NVRTC) and HIP (hiprtc): only the macros below differ between the two.
//
// Build-time defines: T (element type of the input), and per program the accumulator types.
// Compiled with --fmad=false: the CPU backend never fuses a*b+c, so float results match it
// bit for bit.

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef short i16;
typedef int i32;
typedef long long i64;
typedef float f32;
typedef double f64;

#define KERNEL extern "C" __global__
// The block's dynamic shared memory (its size is given at launch). A macro, so that a CPU
// emulator (tests/fixtures/gpu-emulator) can provide it.
#ifndef DYNAMIC_SHARED
#define DYNAMIC_SHARED(name) extern __shared__ __align__(16) unsigned char name[]
#endif
#define GX (blockIdx.x * blockDim.x + threadIdx.x)
#define GY (blockIdx.y * blockDim.y + threadIdx.y)

// Border modes, numbered as the host's border code.
#define B_REFLECT101 0
#define B_REFLECT 1
#define B_REPLICATE 2
#define B_CONSTANT 3
#define B_WRAP 4

// OpenCV borderInterpolate: maps coordinate i into [0, n), or -1 for the constant border.
__device__ __forceinline__ int map_index(int i, int n, int mode) {
    if (i >= 0 && i < n) return i;
    if (mode == B_CONSTANT) return -1;
    if (mode == B_REPLICATE) return i < 0 ? 0 : n - 1;
    if (mode == B_WRAP) { int j = i % n; return j < 0 ? j + n : j; }
    if (n == 1) return 0;
    int delta = mode == B_REFLECT101 ? 1 : 0;
    for (;;) {
        if (i < 0) i = -i - 1 + delta;
        else if (i >= n) i = n - 1 - (i - n) - delta;
        else return i;
    }
}

__device__ __forceinline__ int clamp_int(int v, int lo, int hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// A strided view: element (y, x, ch) is at p[y*s0 + x*s1 + ch*s2] (strides in elements; the
// host passes the pointer already advanced by the view's byte offset).
#define VIEW_ARGS(p) u64 p##_s0, u64 p##_s1, u64 p##_s2
#define AT(p, y, x, ch) ((u64)(y) * (p##_s0) + (u64)(x) * (p##_s1) + (u64)(ch) * (p##_s2))
