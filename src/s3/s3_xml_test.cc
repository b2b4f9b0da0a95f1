#include "s3/s3_xml.h"

#include <gtest/gtest.h>

namespace s3m {
namespace {

const char* kListPage = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>dir/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys>
  <Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents><Key>dir/a &amp; b.txt</Key><LastModified>2009-10-12T17:50:30.123Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>dir/ü</Key><LastModified>2020-01-01T00:00:00Z</LastModified>
    <ETag>"x"</ETag><Size>0</Size><StorageClass>GLACIER</StorageClass></Contents>
  <CommonPrefixes><Prefix>dir/sub/</Prefix></CommonPrefixes>
</ListBucketResult>)";

TEST(S3XmlTest, ParsesListPage) {
  auto r = ParseListObjectsV2(kListPage);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  ASSERT_EQ(r->objects.size(), 2u);
  EXPECT_EQ(r->objects[0].key, "dir/a & b.txt");
  EXPECT_EQ(r->objects[0].size, 434234u);
  EXPECT_EQ(r->objects[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
  EXPECT_EQ(r->objects[0].last_modified, 1255369830);
  EXPECT_EQ(r->objects[0].last_modified_nsec, 123000000);
  EXPECT_EQ(r->objects[1].key, "dir/\xc3\xbc");
  EXPECT_EQ(r->objects[1].storage_class, "GLACIER");
  EXPECT_EQ(r->common_prefixes, std::vector<std::string>{"dir/sub/"});
}

TEST(S3XmlTest, TruncatedDocumentsAreRetryableErrors) {
  std::string doc = kListPage;
  for (size_t cut : {size_t{0}, size_t{40}, doc.size() / 2, doc.size() - 5}) {
    auto r = ParseListObjectsV2(doc.substr(0, cut));
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_TRUE(r.status().retryable());
  }
  // Truncated listing without a token cannot be continued.
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated>"
                                  "</ListBucketResult>")
                   .ok());
  EXPECT_FALSE(ParseInitiateMultipartUpload("<InitiateMultipartUploadResult/>").ok());
}

TEST(S3XmlTest, ParsesErrorBody) {
  S3ErrorBody e;
  ASSERT_TRUE(ParseErrorBody(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist</Message>
<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>)",
                             &e));
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(e.message, "The resource you requested does not exist");
  EXPECT_EQ(e.request_id, "4442587FB7D0A2F9");
  EXPECT_FALSE(ParseErrorBody("<CompleteMultipartUploadResult/>", &e));
  EXPECT_FALSE(ParseErrorBody("<Error><Code>Trunc", &e));
}

TEST(S3XmlTest, MultipartDocuments) {
  auto id = ParseInitiateMultipartUpload(
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
      "<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->upload_id, "VXBsb2FkIElE");
  std::string xml = BuildCompleteMultipartUpload({{1, "\"a\"", "AAAAAA=="}, {2, "\"b\"", ""}});
  EXPECT_EQ(xml,
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag>"
            "<ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>\"b\"</ETag></Part>"
            "</CompleteMultipartUpload>");
  auto done = ParseCompleteMultipartUpload(
      "<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->etag, "\"e-2\"");
}

TEST(S3XmlTest, Dates) {
  int64_t s = 0;
  int32_t ns = -1;
  ASSERT_TRUE(ParseIso8601("1970-01-01T00:00:01Z", &s, &ns));
  EXPECT_EQ(s, 1);
  EXPECT_EQ(ns, 0);
  EXPECT_FALSE(ParseIso8601("yesterday", &s, &ns));
  ASSERT_TRUE(ParseHttpDate("Wed, 12 Oct 2009 17:50:30 GMT", &s));
  EXPECT_EQ(s, 1255369830);
}

TEST(S3XmlTest, ParsesCopyResults) {
  auto part = ParseCopyPartResult(R"(<?xml version="1.0" encoding="UTF-8"?>
<CopyPartResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <LastModified>2011-04-11T20:34:56.000Z</LastModified>
  <ETag>"9b2cf535f27731c974343645a3985328"</ETag>
  <ChecksumCRC32C>yZRlqg==</ChecksumCRC32C></CopyPartResult>)",
                                  4);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(part->part.part_number, 4);
  EXPECT_EQ(part->part.etag, "\"9b2cf535f27731c974343645a3985328\"");
  EXPECT_EQ(part->part.checksum_crc32c, "yZRlqg==");
  // Without a checksum (an upload created without one; moto).
  part = ParseCopyPartResult("<CopyPartResult><ETag>\"e\"</ETag></CopyPartResult>", 1);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(part->part.checksum_crc32c, "");
  auto copy = ParseCopyObjectResult(
      "<CopyObjectResult><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
      "<ETag>\"c\"</ETag></CopyObjectResult>");
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(copy->etag, "\"c\"");
  EXPECT_EQ(copy->last_modified, 1255369830);
}

// A copy that fails after S3 has sent 200 carries an <Error> instead of the result: it is
// an error document, not a result, and a cut-off result is a retryable error.
TEST(S3XmlTest, ErrorInA200CopyIsNotAResult) {
  const char* body = R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message>
<RequestId>656c76696e6727732072657175657374</RequestId></Error>)";
  S3ErrorBody e;
  ASSERT_TRUE(ParseErrorBody(body, &e));
  EXPECT_EQ(e.code, "InternalError");
  EXPECT_FALSE(ParseCopyPartResult(body, 1).ok());
  EXPECT_FALSE(ParseCopyObjectResult(body).ok());
  EXPECT_FALSE(ParseErrorBody("<CopyPartResult><ETag>\"e\"</ETag></CopyPartResult>", &e));
  auto cut = ParseCopyPartResult("<CopyPartResult><ETag>\"e", 1);
  ASSERT_FALSE(cut.ok());
  EXPECT_TRUE(cut.status().retryable());
  EXPECT_FALSE(ParseCopyPartResult("<CopyPartResult></CopyPartResult>", 1).ok());
}

}  // namespace
}  // namespace s3m
