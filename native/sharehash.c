/*
 * The share hash in one call: coinbase = coinb1 | extranonce1 | extranonce2 | coinb2, its txid
 * (double SHA-256), up the Stratum merkle branch, into the 80-byte header, then the header's double
 * SHA-256. Node-API (C), no dependencies. SHA-256 uses the x86 SHA extensions when the CPU has them
 * (checked with cpuid at load, then checked against the portable code on a test vector), portable C
 * otherwise. The JavaScript side (src/core/bitcoin/share-hash.ts) falls back to node:crypto when this
 * addon is not built.
 *
 *   shareHash(coinb1, en1, en2, coinb2, branch, header, out) -> undefined
 *     branch: the branch hashes concatenated (32 bytes each, internal order)
 *     header: 80 bytes; every field but the merkle root already written; the root is written at 36..67
 *     out:    the header's double SHA-256 (32 bytes, internal order) is written at 0..31
 *   sha256d(data, out) -> undefined     (tests)
 *   impl: "sha-ni" | "portable"   (TBG_NATIVE_PORTABLE set: portable even where the CPU has SHA-NI; tests)
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

typedef void (*blocks_fn)(uint32_t state[8], const uint8_t *data, size_t nblocks);

static inline uint32_t rd32be(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline void wr32be(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* FIPS 180-4 SHA-256 compression, portable. */
static void blocks_portable(uint32_t state[8], const uint8_t *data, size_t nblocks) {
  uint32_t w[64];
  while (nblocks--) {
    for (int i = 0; i < 16; i++) w[i] = rd32be(data + 4 * i);
    for (int i = 16; i < 64; i++) {
      uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i++) {
      uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
    data += 64;
  }
}

#ifdef HAVE_X86
/* The same compression with the SHA extensions (sha256rnds2/msg1/msg2); state kept as ABEF/CDGH. */
__attribute__((target("sha,sse4.1,ssse3")))
static void blocks_shani(uint32_t state[8], const uint8_t *data, size_t nblocks) {
  const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
  __m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);
  tmp = _mm_shuffle_epi32(tmp, 0xB1);       /* CDAB */
  s1 = _mm_shuffle_epi32(s1, 0x1B);         /* EFGH */
  __m128i s0 = _mm_alignr_epi8(tmp, s1, 8); /* ABEF */
  s1 = _mm_blend_epi16(s1, tmp, 0xF0);      /* CDGH */
  while (nblocks--) {
    const __m128i abef = s0, cdgh = s1;
    __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 0)), MASK);
    __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), MASK);
    __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), MASK);
    __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), MASK);
    __m128i m;
#define QROUND(W, i)                                                        \
  m = _mm_add_epi32((W), _mm_loadu_si128((const __m128i *)&K[4 * (i)]));   \
  s1 = _mm_sha256rnds2_epu32(s1, s0, m);                                    \
  m = _mm_shuffle_epi32(m, 0x0E);                                           \
  s0 = _mm_sha256rnds2_epu32(s0, s1, m);
/* Next four schedule words from the previous sixteen (a = oldest group, d = newest). */
#define NEXT(a, b, c, d) _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((a), (b)), _mm_alignr_epi8((d), (c), 4)), (d))
    QROUND(w0, 0) QROUND(w1, 1) QROUND(w2, 2) QROUND(w3, 3)
    for (int i = 4; i < 16; i += 4) {
      w0 = NEXT(w0, w1, w2, w3); QROUND(w0, i)
      w1 = NEXT(w1, w2, w3, w0); QROUND(w1, i + 1)
      w2 = NEXT(w2, w3, w0, w1); QROUND(w2, i + 2)
      w3 = NEXT(w3, w0, w1, w2); QROUND(w3, i + 3)
    }
#undef QROUND
#undef NEXT
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
    data += 64;
  }
  tmp = _mm_shuffle_epi32(s0, 0x1B);     /* FEBA */
  s1 = _mm_shuffle_epi32(s1, 0xB1);      /* DCHG */
  s0 = _mm_blend_epi16(tmp, s1, 0xF0);   /* DCBA */
  s1 = _mm_alignr_epi8(s1, tmp, 8);      /* ABEF -> HGFE */
  _mm_storeu_si128((__m128i *)&state[0], s0);
  _mm_storeu_si128((__m128i *)&state[4], s1);
}

static int cpu_has_shani(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  if (!(c & (1u << 9)) || !(c & (1u << 19))) return 0; /* SSSE3, SSE4.1 */
  if (__get_cpuid_max(0, 0) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 29) & 1; /* SHA */
}
#endif

static blocks_fn blocks = blocks_portable;
static const char *impl_name = "portable";

/* Streaming SHA-256 (for the coinbase, whose parts are hashed in place). */
typedef struct {
  uint32_t h[8];
  uint8_t buf[64];
  size_t len;
  uint64_t total;
} ctx_t;

static void ctx_init(ctx_t *c) {
  memcpy(c->h, IV, sizeof IV);
  c->len = 0;
  c->total = 0;
}
static void ctx_update(ctx_t *c, const uint8_t *p, size_t n) {
  c->total += n;
  if (c->len) {
    size_t take = 64 - c->len < n ? 64 - c->len : n;
    memcpy(c->buf + c->len, p, take);
    c->len += take; p += take; n -= take;
    if (c->len < 64) return;
    blocks(c->h, c->buf, 1);
    c->len = 0;
  }
  if (n >= 64) {
    blocks(c->h, p, n / 64);
    p += n & ~(size_t)63;
    n &= 63;
  }
  memcpy(c->buf, p, n);
  c->len = n;
}
static void ctx_final(ctx_t *c, uint8_t out[32]) {
  uint64_t bits = c->total * 8;
  c->buf[c->len++] = 0x80;
  if (c->len > 56) {
    memset(c->buf + c->len, 0, 64 - c->len);
    blocks(c->h, c->buf, 1);
    c->len = 0;
  }
  memset(c->buf + c->len, 0, 56 - c->len);
  for (int i = 0; i < 8; i++) c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  blocks(c->h, c->buf, 1);
  for (int i = 0; i < 8; i++) wr32be(out + 4 * i, c->h[i]);
}

/* SHA-256 of a 32-byte digest (the second half of every double SHA-256): one block. */
static void sha256_32(const uint8_t in[32], uint8_t out[32]) {
  uint8_t block[64];
  uint32_t h[8];
  memcpy(block, in, 32);
  block[32] = 0x80;
  memset(block + 33, 0, 29);
  block[62] = 0x01; /* 256 bits */
  block[63] = 0x00;
  memcpy(h, IV, sizeof IV);
  blocks(h, block, 1);
  for (int i = 0; i < 8; i++) wr32be(out + 4 * i, h[i]);
}

static void sha256d_buf(const uint8_t *p, size_t n, uint8_t out[32]) {
  ctx_t c;
  uint8_t mid[32];
  ctx_init(&c);
  ctx_update(&c, p, n);
  ctx_final(&c, mid);
  sha256_32(mid, out);
}

/* sha256d(left | right): a merkle node. The padding block of a 64-byte message is constant. */
static void sha256d_pair(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]) {
  static const uint8_t PAD[64] = {0x80, [62] = 0x02, [63] = 0x00}; /* 512 bits */
  uint8_t block[64];
  uint8_t mid[32];
  uint32_t h[8];
  memcpy(block, left, 32);
  memcpy(block + 32, right, 32);
  memcpy(h, IV, sizeof IV);
  blocks(h, block, 1);
  blocks(h, PAD, 1);
  for (int i = 0; i < 8; i++) wr32be(mid + 4 * i, h[i]);
  sha256_32(mid, out);
}

/* ---- Node-API glue */

static int get_buf(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return 0;
  void *d;
  if (napi_get_buffer_info(env, v, &d, len) != napi_ok) return 0;
  *data = (uint8_t *)d;
  return 1;
}

static napi_value js_share_hash(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *p[7];
  size_t n[7];
  if (argc != 7) {
    napi_throw_type_error(env, NULL, "shareHash takes 7 Buffers");
    return NULL;
  }
  for (int i = 0; i < 7; i++) {
    if (!get_buf(env, argv[i], &p[i], &n[i])) {
      napi_throw_type_error(env, NULL, "shareHash takes 7 Buffers");
      return NULL;
    }
  }
  if (n[4] % 32 != 0 || n[5] != 80 || n[6] < 32) {
    napi_throw_range_error(env, NULL, "shareHash: branch must be 32-byte hashes, header 80 bytes, out at least 32");
    return NULL;
  }
  ctx_t c;
  uint8_t root[32];
  ctx_init(&c);
  for (int i = 0; i < 4; i++) ctx_update(&c, p[i], n[i]);
  uint8_t mid[32];
  ctx_final(&c, mid);
  sha256_32(mid, root);
  for (size_t off = 0; off < n[4]; off += 32) sha256d_pair(root, p[4] + off, root);
  memcpy(p[5] + 36, root, 32);
  sha256d_buf(p[5], 80, p[6]);
  return NULL;
}

static napi_value js_sha256d(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *in, *out;
  size_t nin, nout;
  if (argc != 2 || !get_buf(env, argv[0], &in, &nin) || !get_buf(env, argv[1], &out, &nout) || nout < 32) {
    napi_throw_type_error(env, NULL, "sha256d(data, out) takes two Buffers, out at least 32 bytes");
    return NULL;
  }
  sha256d_buf(in, nin, out);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
#ifdef HAVE_X86
  if (cpu_has_shani() && getenv("TBG_NATIVE_PORTABLE") == NULL) {
    /* Use the SHA extensions only if they agree with the portable code on a multi-block input. */
    uint8_t msg[200];
    uint32_t a[8], b[8];
    for (int i = 0; i < 200; i++) msg[i] = (uint8_t)(i * 7 + 3);
    memcpy(a, IV, sizeof IV);
    memcpy(b, IV, sizeof IV);
    blocks_portable(a, msg, 3);
    blocks_shani(b, msg, 3);
    if (memcmp(a, b, sizeof a) == 0) {
      blocks = blocks_shani;
      impl_name = "sha-ni";
    }
  }
#endif
  napi_value fn, s;
  napi_create_function(env, "shareHash", NAPI_AUTO_LENGTH, js_share_hash, NULL, &fn);
  napi_set_named_property(env, exports, "shareHash", fn);
  napi_create_function(env, "sha256d", NAPI_AUTO_LENGTH, js_sha256d, NULL, &fn);
  napi_set_named_property(env, exports, "sha256d", fn);
  napi_create_string_utf8(env, impl_name, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, exports, "impl", s);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
