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

}  // namespace
}  // namespace s3m
