/* Channel-sparse convolution on the CPU (n2n/channel_sparse.py): a KxK convolution, stride 1, padding K/2,
 * whose output channel o reads only its D input channels idx[o*D + j], whole kernels.
 *
 * Activations are laid out H, W, C, N (the batch innermost), so that every multiply-add runs along the batch:
 * contiguous, vectorised, and independent of how small the image is (VGG19's last layers are 1x1 and 2x2).
 * Slot j of output o reads kernel (o, idx[o*D + j]) of the layer's dense (O, C, K, K) weight, times scale[o*D + j]
 * (0 on the padding slots of short rows). cs_gather copies the kept kernels, once per forward, into a compact
 * wc[((o*D + j)*K + ky)*K + kx], which the forward and the input gradient read; the weight gradient is written
 * straight into a dense gradient. Dense tensors are addressed through their strides (any memory format).
 * Every loop is over what is kept: O*D*K*K kernels, never O*C.
 * Built by n2n.channel_sparse.load_library with the host's compiler; plain C, no torch headers. */
#include <string.h>

/* A block of 64 batch elements is summed in 8 vectors of 8 floats held in registers (GCC's vector extension:
 * AVX with -march=native on x86, NEON on ARM); the last block of a batch that is not a multiple of 64 runs scalar. */
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4))); /* the same, at any float's address */
#define VECS 8
#define BLOCK (8 * VECS)

static inline void axpy_block(v8 *acc, float v, const float *p) {
  for (int i = 0; i < VECS; ++i) acc[i] += v * *(const v8u *)(p + 8 * i);
}
static inline void store_block(float *p, const v8 *acc) {
  for (int i = 0; i < VECS; ++i) *(v8u *)(p + 8 * i) = acc[i];
}
/* a block of n batch elements: in the registers when whole (n == BLOCK), else in the scalar tail */
static inline void add_to_block(v8 *acc, float *rest, float v, const float *p, int n) {
  if (n == BLOCK) axpy_block(acc, v, p);
  else for (int i = 0; i < n; ++i) rest[i] += v * p[i];
}
static inline void write_block(float *p, const v8 *acc, const float *rest, int n) {
  if (n == BLOCK) store_block(p, acc);
  else memcpy(p, rest, (size_t)n * sizeof(float));
}

/* wc = the kept kernels of w (strides ws), compact and scaled */
void cs_gather(const float *w, const long *ws, const long *idx, const float *scale, float *wc, int O, int D, int K) {
  for (long r = 0; r < (long)O * D; ++r) {
    const float *wp = w + (r / D) * ws[0] + idx[r] * ws[1];
    for (int ky = 0; ky < K; ++ky)
      for (int kx = 0; kx < K; ++kx) wc[(r * K + ky) * K + kx] = scale[r] * wp[ky * ws[2] + kx * ws[3]];
  }
}

/* out[h, w, o, n] = sum_j sum_ky,kx wc[o, j, ky, kx] * x[h + ky - p, w + kx - p, idx[o, j], n] */
void cs_forward(const float *x, const float *wc, const long *idx, float *out,
                int N, int C, int H, int W, int O, int D, int K, int threads) {
  const int p = K / 2;
  #pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int pix = 0; pix < H * W; ++pix)
    for (int o = 0; o < O; ++o) {
      const int h = pix / W, ww = pix % W;
      float *op = out + ((long)pix * O + o) * N;
      for (int n0 = 0; n0 < N; n0 += BLOCK) {
        const int n = N - n0 < BLOCK ? N - n0 : BLOCK;
        v8 acc[VECS] = {{0}};
        float rest[BLOCK];
        if (n < BLOCK) memset(rest, 0, sizeof rest);
        for (int j = 0; j < D; ++j) {
          const long c = idx[(long)o * D + j];
          const float *wp = wc + ((long)o * D + j) * K * K;
          for (int ky = 0; ky < K; ++ky) {
            const int hy = h + ky - p;
            if (hy < 0 || hy >= H) continue;
            for (int kx = 0; kx < K; ++kx) {
              const int wx = ww + kx - p;
              if (wx < 0 || wx >= W) continue;
              const float v = wp[ky * K + kx];
              const float *xp = x + (((long)hy * W + wx) * C + c) * N + n0;
              add_to_block(acc, rest, v, xp, n);
            }
          }
        }
        write_block(op + n0, acc, rest, n);
      }
    }
}

/* gx[h, w, c, n] = sum over the kept pairs (o, j) with idx[o, j] = c, listed as rows[ptr[c] .. ptr[c+1]) = o*D + j
 * (padding slots are not listed), of sum_ky,kx wc[o, j, ky, kx] * gout[h - ky + p, w - kx + p, o, n]: each input
 * gathers from its outputs, so no two threads write the same place. */
void cs_grad_input(const float *gout, const float *wc, const long *ptr, const long *rows, float *gx,
                   int N, int C, int H, int W, int O, int D, int K, int threads) {
  const int p = K / 2;
  #pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int pix = 0; pix < H * W; ++pix)
    for (int c = 0; c < C; ++c) {
      const int h = pix / W, ww = pix % W;
      float *gp = gx + ((long)pix * C + c) * N;
      for (int n0 = 0; n0 < N; n0 += BLOCK) {
        const int n = N - n0 < BLOCK ? N - n0 : BLOCK;
        v8 acc[VECS] = {{0}};
        float rest[BLOCK];
        if (n < BLOCK) memset(rest, 0, sizeof rest);
        for (long e = ptr[c]; e < ptr[c + 1]; ++e) {
          const long r = rows[e], o = r / D;
          const float *wp = wc + r * K * K;
          for (int ky = 0; ky < K; ++ky) {
            const int ho = h - ky + p;
            if (ho < 0 || ho >= H) continue;
            for (int kx = 0; kx < K; ++kx) {
              const int wo = ww - kx + p;
              if (wo < 0 || wo >= W) continue;
              const float v = wp[ky * K + kx];
              const float *g = gout + (((long)ho * W + wo) * O + o) * N + n0;
              add_to_block(acc, rest, v, g, n);
            }
          }
        }
        write_block(gp + n0, acc, rest, n);
      }
    }
}

/* out[c, r] = in[r, c] for an in of rows x cols: (N, H*W*C) <-> (H*W*C, N), four times per layer call, so in
 * blocks of 8 x 8 floats transposed in registers (three rounds of two-vector shuffles, which
 * x86 compiles to unpck, shufps and vperm2f128), 8 rows of in read and 8 rows of out written 8 floats at a time.
 * Edges that are not whole blocks, and compilers without __builtin_shufflevector (or -DN2N_SCALAR_TRANSPOSE, as
 * the tests build it), take the scalar loop. */
#if defined(__has_builtin) && !defined(N2N_SCALAR_TRANSPOSE)
#if __has_builtin(__builtin_shufflevector)
#define HAVE_SHUFFLE 1
#endif
#endif
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)

static void transpose_scalar(const float *in, float *out, long rows, long cols, long r0, long r1, long c0, long c1) {
  for (long c = c0; c < c1; ++c)
    for (long r = r0; r < r1; ++r) out[c * rows + r] = in[r * cols + c];
}

#ifdef HAVE_SHUFFLE
static inline void transpose_8x8(const float *in, float *out, long in_stride, long out_stride) {
  v8 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = *(const v8u *)(in + i * in_stride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = SHUF(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = SHUF(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4)
    for (int k = 0; k < 2; ++k) {
      u[i + 2 * k] = SHUF(t[i + k], t[i + k + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      u[i + 2 * k + 1] = SHUF(t[i + k], t[i + k + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  for (int i = 0; i < 4; ++i) {
    *(v8u *)(out + i * out_stride) = SHUF(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    *(v8u *)(out + (i + 4) * out_stride) = SHUF(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}
#endif

void cs_transpose(const float *in, float *out, long rows, long cols, int threads) {
  const long whole_rows = rows - rows % 8, whole_cols = cols - cols % 8;
  #pragma omp parallel for schedule(static) num_threads(threads)
  for (long r0 = 0; r0 < whole_rows; r0 += 16) {
    const long r1 = r0 + 16 < whole_rows ? r0 + 16 : whole_rows;
#ifdef HAVE_SHUFFLE
    /* two blocks down before the next across: each 64-byte line of out is written whole while in the cache */
    for (long c0 = 0; c0 < whole_cols; c0 += 8)
      for (long r = r0; r < r1; r += 8) transpose_8x8(in + r * cols + c0, out + c0 * rows + r, cols, rows);
#else
    transpose_scalar(in, out, rows, cols, r0, r1, 0, whole_cols);
#endif
    transpose_scalar(in, out, rows, cols, r0, r1, whole_cols, cols);
  }
  transpose_scalar(in, out, rows, cols, whole_rows, rows, 0, cols);
}

/* gw[o, idx[o, j], ky, kx] = sum_h,w,n gout[h, w, o, n] * x[h + ky - p, w + kx - p, idx[o, j], n], the sum's order
 * fixed, into the dense gradient gw (strides gs, zero elsewhere); a padding slot (scale 0) writes nothing */
void cs_grad_weight(const float *gout, const float *x, const long *idx, const float *scale, float *gw, const long *gs,
                    int N, int C, int H, int W, int O, int D, int K, int threads) {
  const int p = K / 2, full = N - N % BLOCK;
  #pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int o = 0; o < O; ++o)
    for (int j = 0; j < D; ++j) {
      const long c = idx[(long)o * D + j];
      if (scale[(long)o * D + j] == 0.0f) continue;
      for (int ky = 0; ky < K; ++ky)
        for (int kx = 0; kx < K; ++kx) {
          v8 acc[VECS] = {{0}};
          float rest = 0.0f;
          for (int h = 0; h < H; ++h) {
            const int hy = h + ky - p;
            if (hy < 0 || hy >= H) continue;
            for (int ww = 0; ww < W; ++ww) {
              const int wx = ww + kx - p;
              if (wx < 0 || wx >= W) continue;
              const float *g = gout + (((long)h * W + ww) * O + o) * N;
              const float *xp = x + (((long)hy * W + wx) * C + c) * N;
              for (int n0 = 0; n0 < full; n0 += BLOCK)
                for (int i = 0; i < VECS; ++i)
                  acc[i] += *(const v8u *)(g + n0 + 8 * i) * *(const v8u *)(xp + n0 + 8 * i);
              for (int n = full; n < N; ++n) rest += g[n] * xp[n];
            }
          }
          for (int width = VECS / 2; width >= 1; width /= 2)
            for (int i = 0; i < width; ++i) acc[i] += acc[i + width];
          float s = rest;
          for (int i = 0; i < 8; ++i) s += acc[0][i];
          gw[o * gs[0] + c * gs[1] + ky * gs[2] + kx * gs[3]] = s;
        }
    }
}
