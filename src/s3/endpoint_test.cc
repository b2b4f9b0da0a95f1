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

TEST(EndpointTest, DualStackAndTransferAcceleration) {
  auto dual =
      ResolveEndpoint({.bucket = "bkt", .region = "eu-west-1", .dual_stack = true}, MapEnv({}));
  ASSERT_TRUE(dual.ok());
  EXPECT_EQ(dual->base_url, "https://bkt.s3.dualstack.eu-west-1.amazonaws.com");
  auto dual_path = ResolveEndpoint(
      {.bucket = "bkt", .region = "eu-west-1", .force_path_style = true, .dual_stack = true},
      MapEnv({}));
  EXPECT_EQ(dual_path->base_url, "https://s3.dualstack.eu-west-1.amazonaws.com");
  EXPECT_EQ(dual_path->KeyPath("k"), "/bkt/k");
  auto accel = ResolveEndpoint(
      {.bucket = "bkt", .region = "eu-west-1", .transfer_acceleration = true}, MapEnv({}));
  EXPECT_EQ(accel->base_url, "https://bkt.s3-accelerate.amazonaws.com");
  auto both = ResolveEndpoint(
      {.bucket = "bkt", .region = "eu-west-1", .transfer_acceleration = true, .dual_stack = true},
      MapEnv({}));
  EXPECT_EQ(both->base_url, "https://bkt.s3-accelerate.dualstack.amazonaws.com");
  auto cn = ResolveEndpoint({.bucket = "bkt", .region = "cn-north-1"}, MapEnv({}));
  EXPECT_EQ(cn->base_url, "https://bkt.s3.cn-north-1.amazonaws.com.cn");
}

TEST(EndpointTest, AwsVariantsRefuseCustomEndpointsAndPathStyle) {
  for (bool accel : {false, true}) {
    EndpointOptions o{.bucket = "bkt", .region = "us-east-1"};
    (accel ? o.transfer_acceleration : o.dual_stack) = true;
    auto env = ResolveEndpoint(o, MapEnv({{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"}}));
    ASSERT_FALSE(env.ok());
    EXPECT_NE(env.status().message().find(accel ? "--transfer-acceleration" : "--dual-stack"),
              std::string::npos);
    EXPECT_NE(env.status().message().find("AWS_ENDPOINT_URL"), std::string::npos);
  }
  auto dotted = ResolveEndpoint(
      {.bucket = "a.b.c", .region = "us-east-1", .transfer_acceleration = true}, MapEnv({}));
  EXPECT_FALSE(dotted.ok());
}

TEST(EndpointTest, AccessPointArnsGoToTheirOwnHostSignedForTheirRegion) {
  auto ap = ResolveEndpoint(
      {.bucket = "arn:aws:s3:eu-west-2:123456789012:accesspoint/my-ap", .region = "us-east-1"},
      MapEnv({}));
  ASSERT_TRUE(ap.ok()) << ap.status().ToString();
  EXPECT_EQ(ap->base_url, "https://my-ap-123456789012.s3-accesspoint.eu-west-2.amazonaws.com");
  EXPECT_EQ(ap->KeyPath("a/b"), "/a/b");
  EXPECT_EQ(ap->BucketPath(), "/");
  EXPECT_EQ(ap->signing_region, "eu-west-2");
  EXPECT_EQ(ap->signing_service, "s3");

  auto colon = ResolveEndpoint({.bucket = "arn:aws-cn:s3:cn-north-1:123456789012:accesspoint:ap1",
                                .region = "cn-north-1",
                                .dual_stack = true},
                               MapEnv({}));
  ASSERT_TRUE(colon.ok());
  EXPECT_EQ(colon->host, "ap1-123456789012.s3-accesspoint.dualstack.cn-north-1.amazonaws.com.cn");

  auto olap = ResolveEndpoint(
      {.bucket = "arn:aws:s3-object-lambda:us-west-2:123456789012:accesspoint/ol", .region = "x"},
      MapEnv({}));
  ASSERT_TRUE(olap.ok());
  EXPECT_EQ(olap->host, "ol-123456789012.s3-object-lambda.us-west-2.amazonaws.com");
  EXPECT_EQ(olap->signing_service, "s3-object-lambda");

  auto outpost = ResolveEndpoint(
      {.bucket = "arn:aws:s3-outposts:us-east-1:123456789012:outpost/op-01/accesspoint/oap",
       .region = "us-east-1"},
      MapEnv({}));
  ASSERT_TRUE(outpost.ok());
  EXPECT_EQ(outpost->host, "oap-123456789012.op-01.s3-outposts.us-east-1.amazonaws.com");
  EXPECT_EQ(outpost->signing_service, "s3-outposts");

  auto mrap = ResolveEndpoint(
      {.bucket = "arn:aws:s3::123456789012:accesspoint/abc.mrap", .region = "us-east-1"},
      MapEnv({}));
  ASSERT_FALSE(mrap.ok());
  EXPECT_NE(mrap.status().message().find("SigV4A"), std::string::npos);
  auto custom = ResolveEndpoint({.bucket = "arn:aws:s3:eu-west-2:123456789012:accesspoint/ap",
                                 .region = "eu-west-2",
                                 .endpoint_url = "http://127.0.0.1:9"},
                                MapEnv({}));
  EXPECT_FALSE(custom.ok());
}

}  // namespace
}  // namespace s3m
