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

namespace {

// Polynomials over GF(2) modulo the CRC32C polynomial, in the CRC's reflected bit order:
// bit 31 is x^0, bit 0 is x^31.
constexpr uint32_t kPoly = 0x82F63B78u;
constexpr uint32_t kOne = 1u << 31;

uint32_t MultiplyMod(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = kOne; bit != 0; bit >>= 1) {  // a's terms, from x^0 up
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;  // b *= x
  }
  return product;
}

// x^(8 * bytes) mod P: appending `bytes` zero bytes multiplies a CRC's register by it.
uint32_t ShiftFor(uint64_t bytes) {
  uint32_t result = kOne;
  uint32_t square = kOne >> 8;  // x^8
  for (; bytes != 0; bytes >>= 1) {
    if (bytes & 1) result = MultiplyMod(result, square);
    square = MultiplyMod(square, square);
  }
  return result;
}

}  // namespace

uint32_t Crc32cCombine(uint32_t a, uint32_t b, uint64_t b_bytes) {
  // With the standard pre- and post-inversion, crc(A||B) = crc(A) * x^(8|B|) + crc(B): the
  // inversions of the two halves cancel. Callers combine pieces of one length, so the
  // shift is kept per thread.
  thread_local uint64_t shift_bytes = 0;
  thread_local uint32_t shift = kOne;
  if (b_bytes != shift_bytes) {
    shift = ShiftFor(b_bytes);
    shift_bytes = b_bytes;
  }
  return MultiplyMod(a, shift) ^ b;
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
