#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace s3m {
namespace {

TEST(Crc32cTest, KnownValues) {
  // RFC 3720 check value for "123456789".
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c(0, "", 0), 0u);
  // 32 bytes of zeros, RFC 3720 B.4.
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(0, zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(Crc32cTest, Incremental) {
  std::string s = "The quick brown fox jumps over the lazy dog";
  uint32_t whole = Crc32c(0, s.data(), s.size());
  uint32_t part = Crc32c(0, s.data(), 10);
  part = Crc32c(part, s.data() + 10, s.size() - 10);
  EXPECT_EQ(whole, part);
}

TEST(Crc32cTest, Base64IsBigEndian) {
  // S3 documents "AAAAAA==" for the empty body.
  EXPECT_EQ(Crc32cBase64(0), "AAAAAA==");
  EXPECT_EQ(Crc32cBase64(0xE3069283u), "4waSgw==");
}

}  // namespace
}  // namespace s3m
