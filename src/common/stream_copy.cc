// See stream_copy.h.
#include "common/stream_copy.h"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace s3m {

#if defined(__SSE2__)
namespace {

constexpr size_t kVector = 16;               // bytes per SSE2 store
constexpr size_t kLine = 64;                 // a cache line: four stores per iteration
constexpr size_t kMinStreamingBytes = 4096;  // below a page the set-up is not worth it

}  // namespace

void StreamingCopy(char* dst, const char* src, size_t n) {
  if (n < kMinStreamingBytes) {
    std::memcpy(dst, src, n);
    return;
  }
  // _mm_stream_si128 needs a 16-byte aligned destination: copy the head normally.
  size_t head = (kVector - (reinterpret_cast<uintptr_t>(dst) % kVector)) % kVector;
  std::memcpy(dst, src, head);
  dst += head;
  src += head;
  n -= head;
  size_t lines = n / kLine;
  for (size_t i = 0; i < lines; ++i, src += kLine, dst += kLine) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + kVector));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * kVector));
    __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 3 * kVector));
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + kVector), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 2 * kVector), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 3 * kVector), d);
  }
  // Orders the weakly-ordered streaming stores before anything that publishes the data
  // (the completion that hands the buffer to another thread).
  _mm_sfence();
  std::memcpy(dst, src, n - lines * kLine);
}

#else

void StreamingCopy(char* dst, const char* src, size_t n) {
  std::memcpy(dst, src, n);
}

#endif

}  // namespace s3m
