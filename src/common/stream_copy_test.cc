#include "common/stream_copy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace s3m {
namespace {

TEST(StreamingCopyTest, CopiesEverySizeAndAlignment) {
  std::vector<char> src(70000);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<char>(i * 131 + 7);
  for (size_t n : {0u, 1u, 63u, 4095u, 4096u, 4097u, 65536u + 13u}) {
    for (size_t dst_offset : {0u, 1u, 8u, 15u}) {
      for (size_t src_offset : {0u, 3u}) {
        std::vector<char> dst(n + dst_offset + 32, 'x');
        StreamingCopy(dst.data() + dst_offset, src.data() + src_offset, n);
        for (size_t i = 0; i < dst_offset; ++i) ASSERT_EQ(dst[i], 'x');
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(dst[dst_offset + i], src[src_offset + i]) << n;
        for (size_t i = dst_offset + n; i < dst.size(); ++i) ASSERT_EQ(dst[i], 'x');
      }
    }
  }
}

}  // namespace
}  // namespace s3m
