#include "common/crc32c.h"

#include <isa-l/crc.h>
#include <openssl/evp.h>

#include <climits>

namespace s3m {

uint32_t Crc32c(uint32_t crc, const void* data, size_t size) {
  // isa-l's crc32_iscsi works on the raw register: pre- and post-invert for the
  // standard (RFC 3720) value. It takes an int length, so feed it in bounded chunks.
  uint32_t reg = ~crc;
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  while (size > 0) {
    size_t n = size > static_cast<size_t>(INT_MAX) ? static_cast<size_t>(1) << 30 : size;
    reg = crc32_iscsi(p, static_cast<int>(n), reg);
    p += n;
    size -= n;
  }
  return ~reg;
}

std::string Crc32cBase64(uint32_t crc) {
  unsigned char be[4] = {static_cast<unsigned char>(crc >> 24),
                         static_cast<unsigned char>(crc >> 16),
                         static_cast<unsigned char>(crc >> 8), static_cast<unsigned char>(crc)};
  unsigned char out[9] = {};
  int n = EVP_EncodeBlock(out, be, 4);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

}  // namespace s3m
