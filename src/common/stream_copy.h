// StreamingCopy: memcpy with non-temporal stores, for response bodies landing in large
// caller buffers (the HTTP transport, the in-memory client). A pure function, any thread.
//
// Why: a ranged GET writes up to several MiB into a buffer that does not stay in cache.
// Ordinary stores first read every destination line from memory (read-for-ownership) and
// evict hot data (libcurl's receive buffers) to make room; non-temporal stores write
// straight to memory. In bench/client_bench.sh (8 MiB GETs from RGW) this cut the client's
// CPU per GiB by ~15-25%. The data is not in cache afterwards, which costs nothing when the
// buffer is larger than the cache anyway; callers use it only for such buffers.
#pragma once

#include <cstddef>

namespace s3m {

// Copies `n` bytes from `src` to `dst` (no overlap), like memcpy. Falls back to memcpy on
// CPUs without SSE2 and for short copies.
void StreamingCopy(char* dst, const char* src, size_t n);

}  // namespace s3m
