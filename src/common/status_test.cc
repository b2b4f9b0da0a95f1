#include "common/status.h"

#include <gtest/gtest.h>

namespace s3m {
namespace {

TEST(StatusTest, OkAndError) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s(Code::kNotFound, "The specified key does not exist.");
  s.set_http_status(404).set_s3_code("NoSuchKey").set_request_id("R1");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "NoSuchKey (HTTP 404, request R1): The specified key does not exist.");
  EXPECT_EQ(Status(Code::kTimeout, "stalled").ToString(), "Timeout: stalled");
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  Result<int> r = 42;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 42);
  Result<int> e = Status(Code::kAccessDenied, "no");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kAccessDenied);
  EXPECT_TRUE(r.status().ok());
}

}  // namespace
}  // namespace s3m
