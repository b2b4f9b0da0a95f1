// CRC32C (Castagnoli) as S3 uses it for x-amz-checksum-crc32c, hardware-accelerated
// through isa-l. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace s3m {

// Continues a CRC32C over `data`; start with crc = 0.
uint32_t Crc32c(uint32_t crc, const void* data, size_t size);

// The CRC32C of A followed by B, from A's CRC, B's CRC and B's length: what Crc32c over
// the two would give, in time logarithmic in `b_bytes` (constant when the length repeats).
uint32_t Crc32cCombine(uint32_t a, uint32_t b, uint64_t b_bytes);

// The base64 of the big-endian CRC, the form of the x-amz-checksum-crc32c header.
std::string Crc32cBase64(uint32_t crc);

}  // namespace s3m
