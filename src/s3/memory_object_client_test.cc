#include "s3/memory_object_client.h"

#include <gtest/gtest.h>

#include "s3/fault_injecting_client.h"

namespace s3m {
namespace {

ListObjectsResult List(ObjectClient& c, ListObjectsParams p) {
  auto r = Wait<ListObjectsResult>([&](auto cb) { c.ListObjects(p, cb); });
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : ListObjectsResult{};
}

TEST(MemoryObjectClientTest, ListWithDelimiterAndPaging) {
  MemoryObjectClient c;
  for (const char* k : {"a/1", "a/2", "b", "c/x/y", "c/z", "d"}) c.Put(k, "v");
  auto r = List(c, {.prefix = "", .delimiter = "/"});
  EXPECT_EQ(r.common_prefixes, (std::vector<std::string>{"a/", "c/"}));
  ASSERT_EQ(r.objects.size(), 2u);
  EXPECT_EQ(r.objects[0].key, "b");
  EXPECT_EQ(r.objects[1].key, "d");
  EXPECT_FALSE(r.truncated);

  // Paging: two entries a page, common prefixes counting as entries.
  std::vector<std::string> seen;
  ListObjectsParams p{.prefix = "", .delimiter = "/", .max_keys = 2};
  int pages = 0;
  while (true) {
    auto page = List(c, p);
    pages++;
    for (auto& cp : page.common_prefixes) seen.push_back(cp);
    for (auto& o : page.objects) seen.push_back(o.key);
    if (!page.truncated) break;
    p.continuation_token = page.next_continuation_token;
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"a/", "b", "c/", "d"}));
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(c.Count(S3Op::kListObjects), 3u);
}

TEST(MemoryObjectClientTest, RangedGetAndIfMatch) {
  MemoryObjectClient c;
  c.Put("k", "0123456789");
  std::string etag = c.Info("k")->etag;
  char buf[16] = {};
  auto r = Wait<GetObjectResult>([&](auto cb) {
    c.GetObject({.key = "k", .offset = 8, .length = 5, .if_match = etag, .buffer = buf}, cb);
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bytes, 2u);
  EXPECT_EQ(std::string(buf, 2), "89");
  c.Put("k", "changed");
  r = Wait<GetObjectResult>([&](auto cb) {
    c.GetObject({.key = "k", .offset = 0, .length = 5, .if_match = etag, .buffer = buf}, cb);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPreconditionFailed);
  r = Wait<GetObjectResult>(
      [&](auto cb) { c.GetObject({.key = "k", .offset = 100, .length = 5, .buffer = buf}, cb); });
  EXPECT_EQ(r.status().code(), Code::kInvalidRange);
}

// Lending: only when the client was told to and the GET accepts it; the lent bytes are the
// version the GET saw, alive while the result holds them, and the buffer is not written.
TEST(MemoryObjectClientTest, LendsBodiesOnlyWhenBothSidesAgree) {
  MemoryObjectClient plain;
  MemoryObjectClient lender({.lend_get_bodies = true});
  for (auto* c : {&plain, &lender}) {
    c->Put("k", "0123456789");
    for (bool accept : {false, true}) {
      char buf[8] = {};
      auto r = Wait<GetObjectResult>([&](auto cb) {
        c->GetObject({.key = "k", .offset = 2, .length = 5, .buffer = buf, .accept_lent = accept},
                     cb);
      });
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->bytes, 5u);
      EXPECT_EQ(r->object_size, 10u);
      if (c == &lender && accept) {
        ASSERT_NE(r->lent, nullptr);
        EXPECT_EQ(buf[0], '\0');  // not written
        c->Put("k", "replaced!!");
        EXPECT_EQ(std::string(r->lent.get(), 5), "23456");
      } else {
        EXPECT_EQ(r->lent, nullptr);
        EXPECT_EQ(std::string(buf, 5), "23456");
      }
    }
  }
}

TEST(MemoryObjectClientTest, MultipartUpload) {
  MemoryObjectClient c({.async = true});
  auto id = Wait<CreateMultipartUploadResult>(
      [&](auto cb) { c.CreateMultipartUpload({.key = "big"}, cb); });
  ASSERT_TRUE(id.ok());
  std::vector<CompletedPart> parts;
  for (int i = 1; i <= 3; i++) {
    std::string data(4, static_cast<char>('a' + i));
    auto part = Wait<UploadPartResult>([&](auto cb) {
      c.UploadPart({.key = "big",
                    .upload_id = id->upload_id,
                    .part_number = i,
                    .data = data.data(),
                    .size = data.size()},
                   cb);
    });
    ASSERT_TRUE(part.ok());
    parts.push_back(part->part);
  }
  EXPECT_EQ(c.PendingUploads(), 1u);
  auto done = Wait<CompleteMultipartUploadResult>([&](auto cb) {
    c.CompleteMultipartUpload({.key = "big", .upload_id = id->upload_id, .parts = parts}, cb);
  });
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(*c.Contents("big"), "bbbbccccdddd");
  EXPECT_EQ(c.PendingUploads(), 0u);
}

Result<PutObjectResult> Put(ObjectClient& c, PutObjectParams p, const std::string& data) {
  p.data = data.data();
  p.size = data.size();
  return Wait<PutObjectResult>([&](auto cb) { c.PutObject(p, cb); });
}

Result<ObjectInfo> Head(ObjectClient& c, const std::string& key) {
  return Wait<ObjectInfo>([&](auto cb) { c.HeadObject({key}, cb); });
}

Result<CopyObjectResult> Copy(ObjectClient& c, CopyObjectParams p) {
  return Wait<CopyObjectResult>([&](auto cb) { c.CopyObject(p, cb); });
}

TEST(MemoryObjectClientTest, PutMetadataIsReturnedByHeadOnly) {
  MemoryObjectClient c;
  Metadata meta = {{"mode", "33188"}, {"uid", "1000"}};
  ASSERT_TRUE(Put(c, {.key = "m", .metadata = meta, .content_type = "text/plain"}, "x").ok());
  auto head = Head(c, "m");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->metadata, meta);
  auto list = List(c, {});
  ASSERT_EQ(list.objects.size(), 1u);
  EXPECT_TRUE(list.objects[0].metadata.empty());  // S3's listings carry no metadata
  // A plain overwrite drops the metadata.
  ASSERT_TRUE(Put(c, {.key = "m"}, "y").ok());
  EXPECT_TRUE(Head(c, "m")->metadata.empty());
}

TEST(MemoryObjectClientTest, PutIfMatchReplacesOnlyTheExpectedVersion) {
  MemoryObjectClient c;
  auto v1 = Put(c, {.key = "k"}, "one");
  ASSERT_TRUE(v1.ok());
  auto v2 = Put(c, {.key = "k", .if_match = v1->etag}, "two");
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_NE(v2->etag, v1->etag);
  auto stale = Put(c, {.key = "k", .if_match = v1->etag}, "three");
  EXPECT_EQ(stale.status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(*c.Contents("k"), "two");
  auto missing = Put(c, {.key = "absent", .if_match = v1->etag}, "x");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_FALSE(c.Contents("absent"));
  auto exists = Put(c, {.key = "k", .if_none_match = true}, "x");
  EXPECT_EQ(exists.status().code(), Code::kPreconditionFailed);
}

TEST(MemoryObjectClientTest, CopyKeepsOrReplacesMetadata) {
  MemoryObjectClient c;
  ASSERT_TRUE(Put(c, {.key = "src", .metadata = {{"mode", "33188"}}}, "data").ok());
  auto kept = Copy(c, {.source_key = "src", .dest_key = "kept", .metadata = {{"mode", "1"}}});
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->etag, c.Info("kept")->etag);
  EXPECT_GT(kept->last_modified, 0);
  EXPECT_EQ(Head(c, "kept")->metadata, (Metadata{{"mode", "33188"}}));  // COPY ignores `metadata`
  ASSERT_TRUE(Copy(c, {.source_key = "src",
                       .dest_key = "replaced",
                       .replace_metadata = true,
                       .metadata = {{"mode", "16877"}, {"mtime", "5"}},
                       .storage_class = "STANDARD_IA"})
                  .ok());
  auto head = Head(c, "replaced");
  EXPECT_EQ(head->metadata, (Metadata{{"mode", "16877"}, {"mtime", "5"}}));
  EXPECT_EQ(head->storage_class, "STANDARD_IA");
  EXPECT_EQ(*c.Contents("replaced"), "data");
  // Replacing with nothing clears it (a metadata-only rewrite onto the same key).
  ASSERT_TRUE(Copy(c, {.source_key = "src", .dest_key = "src", .replace_metadata = true}).ok());
  EXPECT_TRUE(Head(c, "src")->metadata.empty());
}

TEST(MemoryObjectClientTest, CopyPreconditions) {
  MemoryObjectClient c;
  c.Put("src", "data");
  c.Put("taken", "old");
  std::string etag = c.Info("src")->etag;
  auto wrong = Copy(c, {.source_key = "src", .dest_key = "d", .source_if_match = "\"other\""});
  EXPECT_EQ(wrong.status().code(), Code::kPreconditionFailed);
  EXPECT_FALSE(c.Contents("d"));
  EXPECT_TRUE(Copy(c, {.source_key = "src", .dest_key = "d", .source_if_match = etag}).ok());
  auto taken = Copy(c, {.source_key = "src", .dest_key = "taken", .if_none_match = true});
  EXPECT_EQ(taken.status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(*c.Contents("taken"), "old");
  EXPECT_TRUE(Copy(c, {.source_key = "src", .dest_key = "new", .if_none_match = true}).ok());
  EXPECT_EQ(Copy(c, {.source_key = "none", .dest_key = "x"}).status().code(), Code::kNotFound);
}

// A staged write of an existing object: two copied ranges and one uploaded part, with the
// metadata given at creation applied at completion.
TEST(MemoryObjectClientTest, UploadPartCopyRangesAndMetadataAtComplete) {
  MemoryObjectClient c({.async = true});
  c.Put("src", "0123456789");
  std::string src_etag = c.Info("src")->etag;
  auto id = Wait<CreateMultipartUploadResult>([&](auto cb) {
    c.CreateMultipartUpload({.key = "dst", .metadata = {{"mode", "33261"}}}, cb);
  });
  ASSERT_TRUE(id.ok());
  auto copy = [&](UploadPartCopyParams p) {
    p.key = "dst";
    p.upload_id = id->upload_id;
    p.source_key = "src";
    return Wait<UploadPartResult>([&](auto cb) { c.UploadPartCopy(p, cb); });
  };
  auto p1 = copy({.part_number = 1, .source_if_match = src_etag, .first_byte = 2, .last_byte = 4});
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  EXPECT_EQ(p1->part.part_number, 1);
  auto p3 = copy({.part_number = 3, .whole_object = true});
  ASSERT_TRUE(p3.ok());
  std::string mid = "--";
  auto p2 = Wait<UploadPartResult>([&](auto cb) {
    c.UploadPart(
        {.key = "dst", .upload_id = id->upload_id, .part_number = 2, .data = mid.data(), .size = 2},
        cb);
  });
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(copy({.part_number = 4, .first_byte = 5, .last_byte = 10}).status().code(),
            Code::kInvalidArgument);  // past the end: AWS's 400 InvalidArgument
  EXPECT_EQ(copy({.part_number = 4, .first_byte = 5, .last_byte = 4}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(
      copy({.part_number = 4, .source_if_match = "\"x\"", .whole_object = true}).status().code(),
      Code::kPreconditionFailed);
  EXPECT_EQ(copy({.part_number = 0, .whole_object = true}).status().code(), Code::kInvalidArgument);
  auto done = Wait<CompleteMultipartUploadResult>([&](auto cb) {
    c.CompleteMultipartUpload(
        {.key = "dst", .upload_id = id->upload_id, .parts = {p1->part, p2->part, p3->part}}, cb);
  });
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(*c.Contents("dst"), "234--0123456789");
  EXPECT_EQ(Head(c, "dst")->metadata, (Metadata{{"mode", "33261"}}));
  EXPECT_EQ(c.Count(S3Op::kUploadPartCopy), 6u);
}

TEST(MemoryObjectClientTest, CompletePreconditionsKeepTheUpload) {
  MemoryObjectClient c;
  c.Put("k", "old");
  std::string etag = c.Info("k")->etag;
  auto start = [&] {
    auto id = Wait<CreateMultipartUploadResult>(
        [&](auto cb) { c.CreateMultipartUpload({.key = "k"}, cb); });
    std::string data = "new";
    auto part = Wait<UploadPartResult>([&](auto cb) {
      c.UploadPart({.key = "k",
                    .upload_id = id->upload_id,
                    .part_number = 1,
                    .data = data.data(),
                    .size = 3},
                   cb);
    });
    return std::make_pair(id->upload_id, part->part);
  };
  auto complete = [&](CompleteMultipartUploadParams p) {
    return Wait<CompleteMultipartUploadResult>([&](auto cb) { c.CompleteMultipartUpload(p, cb); });
  };
  auto [id, part] = start();
  auto r = complete({.key = "k", .upload_id = id, .parts = {part}, .if_none_match = true});
  EXPECT_EQ(r.status().code(), Code::kPreconditionFailed);
  r = complete({.key = "k", .upload_id = id, .parts = {part}, .if_match = "\"stale\""});
  EXPECT_EQ(r.status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(c.PendingUploads(), 1u);
  EXPECT_EQ(*c.Contents("k"), "old");
  r = complete({.key = "k", .upload_id = id, .parts = {part}, .if_match = etag});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*c.Contents("k"), "new");
  EXPECT_EQ(c.PendingUploads(), 0u);
}

TEST(FaultInjectingClientTest, FailsChosenCallsThenPasses) {
  MemoryObjectClient mem;
  mem.Put("k", "v");
  FaultInjectingClient c(&mem);
  c.SetFault(S3Op::kHeadObject,
             {.error = Status(Code::kServerError, "boom"), .skip = 1, .times = 1});
  auto head = [&] { return Wait<ObjectInfo>([&](auto cb) { c.HeadObject({"k"}, cb); }); };
  EXPECT_TRUE(head().ok());
  EXPECT_EQ(head().status().code(), Code::kServerError);
  EXPECT_TRUE(head().ok());
  EXPECT_EQ(c.Injected(S3Op::kHeadObject), 1);
  EXPECT_EQ(mem.Count(S3Op::kHeadObject), 2u);
}

TEST(FaultInjectingClientTest, FailsUploadPartCopyAndForwardsTheRest) {
  MemoryObjectClient mem;
  mem.Put("src", "abc");
  FaultInjectingClient c(&mem);
  c.SetFault(S3Op::kUploadPartCopy, {.error = Status(Code::kThrottled, "slow"), .times = 1});
  auto id = Wait<CreateMultipartUploadResult>(
      [&](auto cb) { c.CreateMultipartUpload({.key = "dst"}, cb); });
  ASSERT_TRUE(id.ok());
  auto copy = [&] {
    return Wait<UploadPartResult>([&](auto cb) {
      c.UploadPartCopy({.key = "dst",
                        .upload_id = id->upload_id,
                        .part_number = 1,
                        .source_key = "src",
                        .whole_object = true},
                       cb);
    });
  };
  EXPECT_EQ(copy().status().code(), Code::kThrottled);
  EXPECT_TRUE(copy().ok());
  EXPECT_EQ(c.Injected(S3Op::kUploadPartCopy), 1);
  EXPECT_EQ(mem.Count(S3Op::kUploadPartCopy), 1u);
  EXPECT_EQ(mem.Count(S3Op::kCreateMultipartUpload), 1u);  // forwarded by the base
}

}  // namespace
}  // namespace s3m
