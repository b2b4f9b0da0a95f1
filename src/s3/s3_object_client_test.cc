// S3ObjectClient over a scripted HttpClient: request building, error mapping and the
// retry policy, with no network and no real sleeping.
#include "s3/s3_object_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <strings.h>

#include <cstring>
#include <deque>

#include "metrics/mount_metrics.h"
#include "metrics/text_format.h"

namespace s3m {
namespace {

// Answers each request with the next scripted response; Schedule() records the delay and
// runs the function at once.
class ScriptedHttp final : public HttpClient {
 public:
  std::deque<HttpResponse> script;
  std::vector<HttpRequest> sent;
  std::vector<std::chrono::nanoseconds> delays;

  void Send(HttpRequest request, std::function<void(HttpResponse)> done) override {
    HttpResponse r = script.empty() ? Ok(200) : script.front();
    if (!script.empty()) script.pop_front();
    if (r.status >= 200 && r.status < 300 && request.response_buffer && !r.body.empty()) {
      std::memcpy(request.response_buffer, r.body.data(), r.body.size());
      r.buffer_bytes = r.body.size();
      r.body.clear();  // as the transport does: into the buffer or into body, not both
    }
    sent.push_back(std::move(request));
    done(std::move(r));
  }
  void Schedule(std::chrono::nanoseconds delay, std::function<void()> fn) override {
    delays.push_back(delay);
    fn();
  }
  HttpStats Stats() const override { return {}; }

  static HttpResponse Ok(int status, std::string body = "", std::vector<Header> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }
  static HttpResponse Error(int status, const std::string& code) {
    return Ok(status, "<Error><Code>" + code +
                          "</Code><Message>m</Message>"
                          "<RequestId>RID</RequestId></Error>");
  }
  static HttpResponse Transport(Code code, bool maybe_sent) {
    HttpResponse r;
    r.transport = Status(code, "connection failed").set_retryable(true);
    r.maybe_sent = maybe_sent;
    return r;
  }
};

class StaticCreds final : public CredentialsProvider {
 public:
  Result<Credentials> Get() override {
    return Credentials{"AKIDEXAMPLE", "secret", "TOKEN", std::nullopt, "test"};
  }
};

class S3ObjectClientTest : public ::testing::Test {
 protected:
  S3ObjectClientTest() {
    Make([](S3ClientOptions&) {});
  }
  // A new client (and transport) with the default options changed by `tweak`.
  void Make(const std::function<void(S3ClientOptions&)>& tweak) {
    client_.reset();
    auto http = std::make_unique<ScriptedHttp>();
    http_ = http.get();
    S3ClientOptions o;
    o.bucket = "bkt";
    o.region = "us-east-1";
    o.endpoint.scheme = "http";
    o.endpoint.host = "127.0.0.1:9";
    o.endpoint.path_prefix = "/bkt";
    o.endpoint.base_url = "http://127.0.0.1:9";
    o.retry.max_attempts = 3;
    o.metrics = &s3_metrics_;
    tweak(o);
    client_ = std::make_unique<S3ObjectClient>(std::move(http), &creds_, &clock_, o);
  }
  std::string Header(size_t i, const std::string& name) {
    for (auto& [k, v] : http_->sent.at(i).headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    return "";
  }

  // The client's series, by their text-format key (-1: absent).
  double Series(const std::string& key) {
    auto flat = metrics::Flatten(registry_.Collect());
    auto it = flat.find(key);
    return it == flat.end() ? -1 : it->second;
  }

  metrics::Registry registry_;
  metrics::S3RequestMetrics s3_metrics_{&registry_};
  StaticCreds creds_;
  FakeClock clock_;
  ScriptedHttp* http_;
  std::unique_ptr<S3ObjectClient> client_;
};

TEST_F(S3ObjectClientTest, RangedGetIsSignedAndFillsTheBuffer) {
  http_->script.push_back(
      ScriptedHttp::Ok(206, "0123", {{"etag", "\"e\""}, {"content-range", "bytes 10-13/100"}}));
  char buf[4];
  auto r = Wait<GetObjectResult>([&](auto cb) {
    client_->GetObject(
        {.key = "dir/a b", .offset = 10, .length = 4, .if_match = "\"e\"", .buffer = buf}, cb);
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->bytes, 4u);
  EXPECT_EQ(r->object_size, 100u);
  EXPECT_EQ(std::string(buf, 4), "0123");
  EXPECT_EQ(http_->sent[0].url, "http://127.0.0.1:9/bkt/dir/a%20b");
  EXPECT_EQ(Header(0, "range"), "bytes=10-13");
  EXPECT_EQ(Header(0, "if-match"), "\"e\"");
  EXPECT_EQ(Header(0, "x-amz-security-token"), "TOKEN");
  EXPECT_NE(Header(0, "authorization").find("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            std::string::npos);
  EXPECT_EQ(client_->metrics().Get(S3Op::kGetObject).requests, 1u);
}

TEST_F(S3ObjectClientTest, RetriesThrottlingAndServerErrorsWithBackoff) {
  http_->script = {ScriptedHttp::Error(503, "SlowDown"), ScriptedHttp::Error(500, "InternalError"),
                   ScriptedHttp::Ok(204)};
  auto r = Wait<Empty>([&](auto cb) { client_->DeleteObject({"k"}, cb); });
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(http_->sent.size(), 3u);
  ASSERT_EQ(http_->delays.size(), 2u);
  EXPECT_LE(http_->delays[0], std::chrono::milliseconds(100));
  EXPECT_LE(http_->delays[1], std::chrono::milliseconds(200));
  auto m = client_->metrics().Get(S3Op::kDeleteObject);
  EXPECT_EQ(m.requests, 3u);
  EXPECT_EQ(m.retries, 2u);
}

// Every attempt is counted with its status class and bytes; retries and the failure of
// the operation too (the --prometheus-port series).
TEST_F(S3ObjectClientTest, MetricsCountAttemptsStatusClassesAndBytes) {
  http_->script = {ScriptedHttp::Error(503, "SlowDown"),
                   ScriptedHttp::Transport(Code::kNetwork, true), ScriptedHttp::Ok(200)};
  std::string data(1000, 'x');
  auto put = Wait<PutObjectResult>([&](auto cb) {
    client_->PutObject({.key = "k", .data = data.data(), .size = data.size()}, cb);
  });
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  http_->script = {ScriptedHttp::Ok(206, "0123", {{"content-range", "bytes 0-3/4"}})};
  char buf[4];
  ASSERT_TRUE(Wait<GetObjectResult>([&](auto cb) {
                client_->GetObject({.key = "k", .length = 4, .buffer = buf}, cb);
              }).ok());
  http_->script = {ScriptedHttp::Error(404, "NoSuchKey")};
  ASSERT_FALSE(Wait<ObjectInfo>([&](auto cb) { client_->HeadObject({"k"}, cb); }).ok());

  auto requests = [&](const char* op, const char* status) {
    return Series(
        fmt::format(R"(s3mount_s3_requests_total{{operation="{}",status="{}"}})", op, status));
  };
  EXPECT_EQ(requests("PutObject", "5xx"), 1);
  EXPECT_EQ(requests("PutObject", "error"), 1);
  EXPECT_EQ(requests("PutObject", "2xx"), 1);
  EXPECT_EQ(Series(R"(s3mount_s3_retries_total{operation="PutObject"})"), 2);
  EXPECT_EQ(Series(R"(s3mount_s3_failures_total{operation="PutObject"})"), 0);
  // The body went out with each of the three attempts.
  EXPECT_EQ(Series(R"(s3mount_s3_sent_bytes_total{operation="PutObject"})"), 3000);
  EXPECT_EQ(Series(R"(s3mount_s3_request_duration_seconds_count{operation="PutObject"})"), 3);
  EXPECT_EQ(requests("GetObject", "2xx"), 1);
  EXPECT_EQ(Series(R"(s3mount_s3_received_bytes_total{operation="GetObject"})"), 4);
  EXPECT_EQ(Series(R"(s3mount_s3_retries_total{operation="GetObject"})"), 0);
  EXPECT_EQ(requests("HeadObject", "4xx"), 1);
  EXPECT_EQ(Series(R"(s3mount_s3_failures_total{operation="HeadObject"})"), 1);
}

TEST_F(S3ObjectClientTest, GivesUpAfterMaxAttempts) {
  http_->script = {ScriptedHttp::Error(503, "SlowDown"), ScriptedHttp::Error(503, "SlowDown"),
                   ScriptedHttp::Error(503, "SlowDown"), ScriptedHttp::Ok(204)};
  auto r = Wait<Empty>([&](auto cb) { client_->DeleteObject({"k"}, cb); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kThrottled);
  EXPECT_EQ(r.status().s3_code(), "SlowDown");
  EXPECT_EQ(r.status().request_id(), "RID");
  EXPECT_EQ(http_->sent.size(), 3u);
}

TEST_F(S3ObjectClientTest, DoesNotRetryClientErrors) {
  http_->script = {ScriptedHttp::Error(404, "NoSuchKey")};
  auto r = Wait<ObjectInfo>([&](auto cb) { client_->HeadObject({"k"}, cb); });
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(http_->sent.size(), 1u);
  http_->script = {ScriptedHttp::Error(404, "NoSuchBucket")};
  auto l = Wait<ListObjectsResult>([&](auto cb) { client_->ListObjects({}, cb); });
  EXPECT_EQ(l.status().code(), Code::kNoSuchBucket);
  EXPECT_NE(l.status().message().find("bucket 'bkt' does not exist"), std::string::npos);
}

TEST_F(S3ObjectClientTest, CompleteIsNotRetriedAfterItMayHaveRun) {
  http_->script = {ScriptedHttp::Transport(Code::kTimeout, /*maybe_sent=*/true)};
  auto r = Wait<CompleteMultipartUploadResult>([&](auto cb) {
    client_->CompleteMultipartUpload({.key = "k", .upload_id = "u", .parts = {{1, "\"e\"", ""}}},
                                     cb);
  });
  EXPECT_EQ(r.status().code(), Code::kTimeout);
  EXPECT_EQ(http_->sent.size(), 1u);

  // Never sent (connection refused): safe to send again. A 200 with an <Error> body is a
  // server-side failure and is retried too.
  http_->sent.clear();
  http_->script = {ScriptedHttp::Transport(Code::kNetwork, /*maybe_sent=*/false),
                   ScriptedHttp::Error(200, "InternalError"),
                   ScriptedHttp::Ok(200,
                                    "<CompleteMultipartUploadResult><ETag>\"x-1\"</ETag>"
                                    "</CompleteMultipartUploadResult>")};
  r = Wait<CompleteMultipartUploadResult>([&](auto cb) {
    client_->CompleteMultipartUpload({.key = "k", .upload_id = "u", .parts = {{1, "\"e\"", ""}}},
                                     cb);
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->etag, "\"x-1\"");
  EXPECT_EQ(http_->sent.size(), 3u);
  EXPECT_NE(Header(0, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");  // the XML body is hashed
}

TEST_F(S3ObjectClientTest, UploadPartSendsCrc32c) {
  http_->script = {ScriptedHttp::Ok(200, "", {{"etag", "\"p1\""}})};
  std::string data = "123456789";
  auto r = Wait<UploadPartResult>([&](auto cb) {
    client_->UploadPart({.key = "k",
                         .upload_id = "u/+",
                         .part_number = 1,
                         .data = data.data(),
                         .size = data.size(),
                         .checksum = ChecksumAlgorithm::kCrc32c},
                        cb);
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->part.checksum_crc32c, "4waSgw==");
  EXPECT_EQ(Header(0, "x-amz-checksum-crc32c"), "4waSgw==");
  EXPECT_EQ(http_->sent[0].url, "http://127.0.0.1:9/bkt/k?partNumber=1&uploadId=u%2F%2B");
  EXPECT_EQ(http_->sent[0].body, data.data());
}

TEST_F(S3ObjectClientTest, MetadataIsSentSignedAndReadBackFromHead) {
  auto r = Wait<PutObjectResult>([&](auto cb) {
    client_->PutObject({.key = "k",
                        .if_match = "\"e1\"",
                        .metadata = {{"mode", "33188"}, {"uid", "0"}},
                        .content_type = "text/plain"},
                       cb);
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Header(0, "x-amz-meta-mode"), "33188");
  EXPECT_EQ(Header(0, "x-amz-meta-uid"), "0");
  EXPECT_EQ(Header(0, "content-type"), "text/plain");
  EXPECT_EQ(Header(0, "if-match"), "\"e1\"");
  std::string auth = Header(0, "authorization");
  EXPECT_NE(auth.find("x-amz-meta-mode;x-amz-meta-uid"), std::string::npos) << auth;

  http_->script = {ScriptedHttp::Ok(200, "",
                                    {{"content-length", "5"},
                                     {"etag", "\"e\""},
                                     {"x-amz-meta-mode", "16877"},
                                     {"x-amz-meta-", "nameless"},
                                     {"x-amz-metadata-directive", "not user metadata"}})};
  auto head = Wait<ObjectInfo>([&](auto cb) { client_->HeadObject({"k"}, cb); });
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->metadata, (Metadata{{"mode", "16877"}}));

  auto bad = Wait<PutObjectResult>([&](auto cb) {
    client_->PutObject({.key = "k", .metadata = {{"Mode", "1"}}}, cb);
  });
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(http_->sent.size(), 2u);  // refused before sending
}

TEST_F(S3ObjectClientTest, CopyHeadersAndEncodedSource) {
  http_->script = {ScriptedHttp::Ok(200,
                                    "<CopyObjectResult><LastModified>2009-10-12T17:50:30.000Z"
                                    "</LastModified><ETag>\"c\"</ETag></CopyObjectResult>")};
  auto r = Wait<CopyObjectResult>([&](auto cb) {
    client_->CopyObject({.source_key = "dir/a b+c%d?e\xc3\xbc",
                         .dest_key = "dst",
                         .source_if_match = "\"s\"",
                         .if_none_match = true,
                         .replace_metadata = true,
                         .metadata = {{"mode", "1"}},
                         .content_type = "a/b",
                         .storage_class = "STANDARD_IA"},
                        cb);
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->etag, "\"c\"");
  EXPECT_EQ(r->last_modified, 1255369830);
  EXPECT_EQ(Header(0, "x-amz-copy-source"), "/bkt/dir/a%20b%2Bc%25d%3Fe%C3%BC");
  EXPECT_EQ(Header(0, "x-amz-copy-source-if-match"), "\"s\"");
  EXPECT_EQ(Header(0, "if-none-match"), "*");
  EXPECT_EQ(Header(0, "x-amz-metadata-directive"), "REPLACE");
  EXPECT_EQ(Header(0, "x-amz-meta-mode"), "1");
  EXPECT_EQ(Header(0, "content-type"), "a/b");
  EXPECT_EQ(Header(0, "x-amz-storage-class"), "STANDARD_IA");

  // COPY (the default) sends no directive and no metadata, whatever `metadata` holds.
  http_->script = {
      ScriptedHttp::Ok(200, "<CopyObjectResult><ETag>\"c\"</ETag></CopyObjectResult>")};
  r = Wait<CopyObjectResult>([&](auto cb) {
    client_->CopyObject({.source_key = "s", .dest_key = "d", .metadata = {{"mode", "1"}}}, cb);
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Header(1, "x-amz-metadata-directive"), "");
  EXPECT_EQ(Header(1, "x-amz-meta-mode"), "");
  EXPECT_EQ(Header(1, "if-none-match"), "");

  http_->script = {ScriptedHttp::Error(412, "PreconditionFailed")};
  r = Wait<CopyObjectResult>([&](auto cb) {
    client_->CopyObject({.source_key = "s", .dest_key = "d", .source_if_match = "\"x\""}, cb);
  });
  EXPECT_EQ(r.status().code(), Code::kPreconditionFailed);
}

TEST_F(S3ObjectClientTest, UploadPartCopySendsTheRangeAndReadsCopyPartResult) {
  http_->script = {ScriptedHttp::Ok(
      200,
      "<CopyPartResult><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>\"cp\"</ETag>"
      "<ChecksumCRC32C>AAAAAA==</ChecksumCRC32C></CopyPartResult>")};
  auto r = Wait<UploadPartResult>([&](auto cb) {
    client_->UploadPartCopy({.key = "dst",
                             .upload_id = "u",
                             .part_number = 2,
                             .source_key = "src key",
                             .source_if_match = "\"s\"",
                             .first_byte = 5,
                             .last_byte = 9},
                            cb);
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->part.part_number, 2);
  EXPECT_EQ(r->part.etag, "\"cp\"");
  EXPECT_EQ(r->part.checksum_crc32c, "AAAAAA==");
  EXPECT_EQ(http_->sent[0].method, "PUT");
  EXPECT_EQ(http_->sent[0].url, "http://127.0.0.1:9/bkt/dst?partNumber=2&uploadId=u");
  EXPECT_EQ(Header(0, "x-amz-copy-source"), "/bkt/src%20key");
  EXPECT_EQ(Header(0, "x-amz-copy-source-range"), "bytes=5-9");
  EXPECT_EQ(Header(0, "x-amz-copy-source-if-match"), "\"s\"");
  EXPECT_EQ(client_->metrics().Get(S3Op::kUploadPartCopy).requests, 1u);

  // A whole-object copy sends no range; a 200 carrying an <Error> is retried.
  http_->script = {ScriptedHttp::Error(200, "InternalError"),
                   ScriptedHttp::Ok(200, "<CopyPartResult><ETag>\"w\"</ETag></CopyPartResult>")};
  r = Wait<UploadPartResult>([&](auto cb) {
    client_->UploadPartCopy(
        {.key = "dst", .upload_id = "u", .part_number = 3, .source_key = "s", .whole_object = true},
        cb);
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->part.etag, "\"w\"");
  EXPECT_EQ(r->part.checksum_crc32c, "");
  EXPECT_EQ(http_->sent.size(), 3u);
  EXPECT_EQ(Header(2, "x-amz-copy-source-range"), "");

  auto empty = Wait<UploadPartResult>([&](auto cb) {
    client_->UploadPartCopy({.key = "d", .part_number = 1, .first_byte = 2, .last_byte = 1}, cb);
  });
  EXPECT_EQ(empty.status().code(), Code::kInvalidArgument);
}

TEST_F(S3ObjectClientTest, ConditionalCompleteAndConflicts) {
  http_->script = {ScriptedHttp::Error(412, "PreconditionFailed")};
  auto r = Wait<CompleteMultipartUploadResult>([&](auto cb) {
    client_->CompleteMultipartUpload({.key = "k",
                                      .upload_id = "u",
                                      .parts = {{1, "\"e\"", ""}},
                                      .if_none_match = true,
                                      .if_match = "\"m\""},
                                     cb);
  });
  EXPECT_EQ(r.status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(Header(0, "if-none-match"), "*");
  EXPECT_EQ(Header(0, "if-match"), "\"m\"");
  http_->script = {ScriptedHttp::Error(409, "ConditionalRequestConflict")};
  auto p = Wait<PutObjectResult>(
      [&](auto cb) { client_->PutObject({.key = "k", .if_none_match = true}, cb); });
  EXPECT_EQ(p.status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(http_->sent.size(), 2u);  // not retried
}

TEST_F(S3ObjectClientTest, WrongRegionSaysWhichOne) {
  auto resp = ScriptedHttp::Error(301, "PermanentRedirect");
  resp.headers.emplace_back("x-amz-bucket-region", "eu-central-1");
  http_->script = {resp};
  auto r = Wait<ListObjectsResult>([&](auto cb) { client_->ListObjects({}, cb); });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("use --region eu-central-1"), std::string::npos)
      << r.status().message();
}

// --sse, --sse-kms-key-id and --expected-bucket-owner: which requests carry which header.
TEST_F(S3ObjectClientTest, EncryptionAndOwnerHeadersGoOnTheRequestsThatNeedThem) {
  Make([](S3ClientOptions& o) {
    o.sse = "aws:kms";
    o.sse_kms_key_id = "arn:aws:kms:us-east-1:111122223333:key/k1";
    o.expected_bucket_owner = "111122223333";
  });
  char data[3] = {'a', 'b', 'c'};
  auto done = [](auto) {};
  client_->PutObject({.key = "p", .data = data, .size = 3}, done);
  http_->script.push_back(ScriptedHttp::Ok(
      200,
      "<InitiateMultipartUploadResult><UploadId>U</UploadId></InitiateMultipartUploadResult>"));
  client_->CreateMultipartUpload({.key = "m"}, done);
  client_->UploadPart({.key = "m", .upload_id = "U", .part_number = 1, .data = data, .size = 3},
                      done);
  http_->script.push_back(
      ScriptedHttp::Ok(200, "<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>"));
  client_->CopyObject({.source_key = "p", .dest_key = "q"}, done);
  http_->script.push_back(
      ScriptedHttp::Ok(200, "<CopyPartResult><ETag>\"e\"</ETag></CopyPartResult>"));
  client_->UploadPartCopy(
      {.key = "m", .upload_id = "U", .part_number = 2, .source_key = "p", .whole_object = true},
      done);
  client_->GetObject({.key = "p", .offset = 0, .length = 1, .buffer = data}, [](auto) {});
  ASSERT_EQ(http_->sent.size(), 6u);
  for (size_t i : {0, 1, 3}) {  // PutObject, CreateMultipartUpload, CopyObject
    EXPECT_EQ(Header(i, "x-amz-server-side-encryption"), "aws:kms") << i;
    EXPECT_EQ(Header(i, "x-amz-server-side-encryption-aws-kms-key-id"),
              "arn:aws:kms:us-east-1:111122223333:key/k1")
        << i;
  }
  for (size_t i : {2, 4, 5}) {  // UploadPart, UploadPartCopy, GetObject
    EXPECT_EQ(Header(i, "x-amz-server-side-encryption"), "") << i;
  }
  for (size_t i = 0; i < 6; i++) {
    EXPECT_EQ(Header(i, "x-amz-expected-bucket-owner"), "111122223333") << i;
    bool copy = i == 3 || i == 4;
    EXPECT_EQ(Header(i, "x-amz-source-expected-bucket-owner"), copy ? "111122223333" : "") << i;
    // Signed: a proxy cannot strip the condition without breaking the signature.
    EXPECT_NE(Header(i, "authorization").find("x-amz-expected-bucket-owner"), std::string::npos);
  }
}

TEST_F(S3ObjectClientTest, NoEncryptionOrOwnerHeadersUnlessAsked) {
  char data[1] = {'a'};
  client_->PutObject({.key = "p", .data = data, .size = 1}, [](auto) {});
  ASSERT_EQ(http_->sent.size(), 1u);
  EXPECT_EQ(Header(0, "x-amz-server-side-encryption"), "");
  EXPECT_EQ(Header(0, "x-amz-expected-bucket-owner"), "");
  EXPECT_EQ(Header(0, "content-type"), "");
}

TEST_F(S3ObjectClientTest, ContentTypeIsInferredOnlyWhenAskedAndNotGiven) {
  Make([](S3ClientOptions& o) {
    o.sse = "AES256";
    o.infer_content_type = true;
  });
  char data[1] = {'a'};
  auto done = [](auto) {};
  client_->PutObject({.key = "d/page.HTML", .data = data, .size = 1}, done);
  client_->PutObject({.key = "d/", .data = data, .size = 1, .content_type = "application/x-dir"},
                     done);
  client_->PutObject({.key = "noext", .data = data, .size = 1}, done);
  http_->script.push_back(ScriptedHttp::Ok(
      200,
      "<InitiateMultipartUploadResult><UploadId>U</UploadId></InitiateMultipartUploadResult>"));
  client_->CreateMultipartUpload({.key = "big.parquet"}, done);
  ASSERT_EQ(http_->sent.size(), 4u);
  EXPECT_EQ(Header(0, "content-type"), "text/html");
  EXPECT_EQ(Header(1, "content-type"), "application/x-dir");  // what the caller set wins
  EXPECT_EQ(Header(2, "content-type"), "");
  EXPECT_EQ(Header(3, "content-type"), "application/vnd.apache.parquet");
  EXPECT_EQ(Header(0, "x-amz-server-side-encryption"), "AES256");
  EXPECT_EQ(Header(0, "x-amz-server-side-encryption-aws-kms-key-id"), "");
}

}  // namespace
}  // namespace s3m
