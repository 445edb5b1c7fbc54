// Shared by every yam OpenCL program (prepended to each source by the host).
//
// Build-time defines: T (element type of the input), and per program the accumulator types.
// YAM_FP64 is 1 when the device has cl_khr_fp64; `real` is then double, else float.
#if YAM_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
#else
typedef float real;
#endif
// The CPU backend never fuses a*b+c; neither do we, so float results match bit for bit.
#pragma OPENCL FP_CONTRACT OFF

// Border modes, numbered as the host's BorderCode.
#define B_REFLECT101 0
#define B_REFLECT 1
#define B_REPLICATE 2
#define B_CONSTANT 3
#define B_WRAP 4

// OpenCV borderInterpolate: maps coordinate i into [0, n), or -1 for the constant border.
inline int map_index(int i, int n, int mode) {
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

// A strided view: element (y, x, ch) is at off + y*s0 + x*s1 + ch*s2 (all in elements).
#define VIEW_ARGS(p) ulong p##_off, ulong p##_s0, ulong p##_s1, ulong p##_s2
#define AT(p, y, x, ch) ((p##_off) + (ulong)(y) * (p##_s0) + (ulong)(x) * (p##_s1) + (ulong)(ch) * (p##_s2))
