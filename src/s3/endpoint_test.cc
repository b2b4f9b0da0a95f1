#include "s3/endpoint.h"

#include <gtest/gtest.h>

#include <map>

namespace s3m {
namespace {

TEST(EndpointTest, AwsVirtualHosted) {
  auto e = ResolveEndpoint({.bucket = "my-bucket", .region = "eu-west-1"}, MapEnv({}));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->base_url, "https://my-bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(e->KeyPath("a b/c+d%e~f=g"), "/a%20b/c%2Bd%25e~f%3Dg");
  EXPECT_EQ(e->BucketPath(), "/");
}

TEST(EndpointTest, PathStyleWhenForcedOrForDottedBucketsOverTls) {
  auto forced = ResolveEndpoint({.bucket = "b1x", .region = "us-east-1", .force_path_style = true},
                                MapEnv({}));
  EXPECT_EQ(forced->base_url, "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(forced->KeyPath("k"), "/b1x/k");
  auto dotted = ResolveEndpoint({.bucket = "a.b.c", .region = "us-east-1"}, MapEnv({}));
  EXPECT_EQ(dotted->host, "s3.us-east-1.amazonaws.com");
  EXPECT_EQ(dotted->BucketPath(), "/a.b.c/");
}

TEST(EndpointTest, CustomEndpointsFromOptionAndEnvironment) {
  auto local = ResolveEndpoint(
      {.bucket = "bkt", .region = "us-east-1", .endpoint_url = "http://127.0.0.1:9000/"},
      MapEnv({}));
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->base_url, "http://127.0.0.1:9000");
  EXPECT_EQ(local->KeyPath("x"), "/bkt/x");

  auto env = ResolveEndpoint({.bucket = "bkt", .region = "us-east-1"},
                             MapEnv({{"AWS_ENDPOINT_URL", "http://localhost:1"},
                                     {"AWS_ENDPOINT_URL_S3", "https://s3.example.com"}}));
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->base_url, "https://bkt.s3.example.com");  // the S3-specific variable wins
  auto general = ResolveEndpoint({.bucket = "bkt", .region = "us-east-1"},
                                 MapEnv({{"AWS_ENDPOINT_URL", "http://localhost:1"}}));
  EXPECT_EQ(general->base_url, "http://localhost:1");
  EXPECT_EQ(general->path_prefix, "/bkt");
}

TEST(EndpointTest, BadInput) {
  auto bad = ResolveEndpoint({.bucket = "bkt", .region = "r", .endpoint_url = "127.0.0.1:9000"},
                             MapEnv({}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("expected http://"), std::string::npos);
  EXPECT_FALSE(
      ResolveEndpoint({.bucket = "b", .region = "r", .endpoint_url = "ftp://x"}, MapEnv({})).ok());
  EXPECT_FALSE(ValidateBucketName("ab").ok());
  EXPECT_FALSE(ValidateBucketName("a/b/c").ok());
  EXPECT_TRUE(ValidateBucketName("my.bucket-1").ok());
}

}  // namespace
}  // namespace s3m
