#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <algorithm>
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

TEST(Crc32cTest, CombiningTwoCrcsEqualsTheCrcOfBoth) {
  std::string s;
  for (int i = 0; i < 70000; ++i) s.push_back(static_cast<char>((i * 7919) ^ (i >> 8)));
  for (size_t cut : {0ul, 1ul, 9ul, 4096ul, 16384ul, 65537ul, s.size()}) {
    uint32_t a = Crc32c(0, s.data(), cut);
    uint32_t b = Crc32c(0, s.data() + cut, s.size() - cut);
    EXPECT_EQ(Crc32cCombine(a, b, s.size() - cut), Crc32c(0, s.data(), s.size())) << cut;
  }
  // Pieces of one length folded left, as the cache folds its 16 KiB pieces, and a short last.
  uint32_t folded = 0;
  for (size_t at = 0; at < s.size(); at += 16384) {
    size_t n = std::min<size_t>(16384, s.size() - at);
    folded = Crc32cCombine(folded, Crc32c(0, s.data() + at, n), n);
  }
  EXPECT_EQ(folded, Crc32c(0, s.data(), s.size()));
  EXPECT_EQ(Crc32cCombine(0xE3069283u, 0, 0), 0xE3069283u);
}

TEST(Crc32cTest, Base64IsBigEndian) {
  // S3 documents "AAAAAA==" for the empty body.
  EXPECT_EQ(Crc32cBase64(0), "AAAAAA==");
  EXPECT_EQ(Crc32cBase64(0xE3069283u), "4waSgw==");
}

}  // namespace
}  // namespace s3m
