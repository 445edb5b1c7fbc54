// Connected components of a u8 mask (nonzero = foreground) with OpenCV's label numbering,
// by lock-free union-find (Playne & Hawick 2018):
//   cc_init     parent[i] = start of i's run inside its 256-pixel row tile, -1 for background
//   cc_merge    unite every foreground pixel with its foreground neighbours already scanned
//               (left across tiles, up; with 8-connectivity also up-left and up-right), except
//               where another pixel's union implies it. Links always point to a smaller
//               index, so each root ends as its component's first pixel in raster order, and
//               parent[i] <= i keeps every find finite.
//   cc_flatten  parent[i] = root
//   cc_minkey   key of a component = smallest numbering key of its pixels: the pixel index
//               (4-connectivity) or the 2x2 block index in block-raster order (8-connectivity:
//               OpenCV's Spaghetti/BBDT numbering; two components never share a block); only
//               the pixels of the root's row or block row can hold it
//   cc_mark     mark[key] = 1 for each component
//   scan        inclusive prefix sum of mark: a component's label is the scan at its key
//   cc_write    labels as i32
// Define: T (unused, u8).

__device__ __forceinline__ int find_root(const volatile int* parent, int i) {
    int p = parent[i];
    while (p != i) {
        i = p;
        p = parent[i];
    }
    return i;
}

__device__ void unite(int* parent, int a, int b) {
    for (;;) {
        a = find_root(parent, a);
        b = find_root(parent, b);
        if (a == b) return;
        if (a < b) { int t = a; a = b; b = t; }
        // Link the larger root under the smaller; if another thread moved a's link first,
        // carry on uniting from where it now points.
        int old = atomicMin(&parent[a], b);
        if (old == a) return;
        a = old;
    }
}

// Pixels per row tile of cc_init (its block is CC_TILE x 1 threads).
#define CC_TILE 256

// parent[i] = start of i's horizontal run inside its row tile (a foreground pixel), -1 for
// background: runs are linked here without atomics, so cc_merge unites only across tiles and
// rows. The run start is a prefix maximum over the tile of "positions after a background
// pixel".
KERNEL void cc_init(const u8* __restrict__ mask, VIEW_ARGS(s), int w, int h, int* parent) {
    __shared__ int start[CC_TILE];
    int t = threadIdx.x;
    int x = blockIdx.x * CC_TILE + t;
    for (int y = blockIdx.y; y < h; y += gridDim.y) {
        bool fg = x < w && mask[AT(s, y, x, 0)] != 0;
        bool left_fg = x > 0 && t > 0 && x - 1 < w && mask[AT(s, y, x - 1, 0)] != 0;
        start[t] = left_fg ? 0 : t;
        __syncthreads();
        for (int off = 1; off < CC_TILE; off <<= 1) {
            int v = t >= off ? start[t - off] : 0;
            __syncthreads();
            if (v > start[t]) start[t] = v;
            __syncthreads();
        }
        if (x < w) {
            int row = y * w;
            parent[row + x] = fg ? row + blockIdx.x * CC_TILE + start[t] : -1;
        }
        __syncthreads();
    }
}

// Unites each foreground pixel with the neighbours already scanned, skipping every union
// that another pixel's union already implies: the left neighbour only across a tile edge
// (cc_init linked the rest), the upper one unless the left pixel and the upper-left one are
// both foreground (then the left pixel's union covers it), and with 8-connectivity the
// diagonals only when the pixel above is background and the pixel beside on that side is too.
KERNEL void cc_merge(int w, int h, int eight, int* parent) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int i = y * w + x;
    if (parent[i] < 0) return;
    bool l = x > 0 && parent[i - 1] >= 0;
    if (l && x % CC_TILE == 0) unite(parent, i, i - 1);
    if (y == 0) return;
    int up = i - w;
    bool u = parent[up] >= 0;
    bool ul = x > 0 && parent[up - 1] >= 0;
    if (u) {
        if (!(l && ul)) unite(parent, i, up);
    } else if (eight) {
        if (ul && !l) unite(parent, i, up - 1);
        if (x + 1 < w && parent[up + 1] >= 0 && parent[i + 1] < 0) unite(parent, i, up + 1);
    }
}

KERNEL void cc_flatten(int n, int* parent) {
    int i = GX + GY * gridDim.x * blockDim.x;
    if (i >= n || parent[i] < 0) return;
    parent[i] = find_root(parent, i);
}

KERNEL void cc_fill(int n, int value, int* a) {
    int i = GX + GY * gridDim.x * blockDim.x;
    if (i < n) a[i] = value;
}

KERNEL void cc_minkey(int w, int h, int eight, const int* __restrict__ parent, int* minkey) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int i = y * w + x;
    int root = parent[i];
    if (root < 0) return;
    // The root is the component's first pixel in raster order, so the smallest key lies in
    // the root's row (4-connectivity: the root itself) or its block row (8-connectivity).
    // Only those pixels compete: one atomic per pixel on a large component's root would
    // serialise millions of updates on one address.
    int root_y = root / w;
    if (eight ? (y / 2 != root_y / 2) : (i != root)) return;
    int key = eight ? (y / 2) * ((w + 1) / 2) + x / 2 : i;
    atomicMin(&minkey[root], key);
}

KERNEL void cc_mark(int n, const int* __restrict__ parent, const int* __restrict__ minkey,
                    int* mark) {
    int i = GX + GY * gridDim.x * blockDim.x;
    if (i >= n || parent[i] != i) return;
    mark[minkey[i]] = 1;
}

KERNEL void cc_write(const int* __restrict__ parent, const int* __restrict__ minkey,
                     const int* __restrict__ rank, int w, int h, i32* __restrict__ dst,
                     VIEW_ARGS(d)) {
    int x = GX, y = GY;
    if (x >= w || y >= h) return;
    int root = parent[y * w + x];
    dst[AT(d, y, x, 0)] = root < 0 ? 0 : rank[minkey[root]];
}

// Inclusive prefix sum of data[0..n) in chunks of SCAN_BLOCK (the block size it must be
// launched with); sums[b] receives chunk b's total. The host scans `sums` the same way and
// adds chunk b-1's prefix to chunk b with scan_add.
#define SCAN_BLOCK 1024
KERNEL void scan_blocks(int* data, int n, int* sums) {
    __shared__ int buf[2][SCAN_BLOCK];
    int t = threadIdx.x;
    int i = blockIdx.x * SCAN_BLOCK + t;
    int cur = 0;
    buf[0][t] = i < n ? data[i] : 0;
    __syncthreads();
    for (int off = 1; off < SCAN_BLOCK; off <<= 1) {
        int v = buf[cur][t];
        if (t >= off) v += buf[cur][t - off];
        buf[1 - cur][t] = v;
        cur = 1 - cur;
        __syncthreads();
    }
    if (i < n) data[i] = buf[cur][t];
    if (t == SCAN_BLOCK - 1) sums[blockIdx.x] = buf[cur][t];
}

KERNEL void scan_add(int* data, int n, const int* __restrict__ sums) {
    int b = blockIdx.x;
    int i = b * SCAN_BLOCK + threadIdx.x;
    if (b == 0 || i >= n) return;
    data[i] += sums[b - 1];
}
