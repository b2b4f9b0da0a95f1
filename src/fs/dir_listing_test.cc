// ListingMerger tests: name order across S3's key order, shadowing across pages, hidden
// names, and holding back entries a later page could precede.
#include "fs/dir_listing.h"

#include <gtest/gtest.h>

namespace s3m {
namespace {

ListObjectsResult Page(std::vector<std::string> keys, std::vector<std::string> prefixes) {
  ListObjectsResult r;
  for (auto& k : keys) r.objects.push_back(ObjectInfo{k, 1, "\"e\"", 0, 0, ""});
  r.common_prefixes = std::move(prefixes);
  return r;
}

std::vector<std::string> Names(const std::vector<ListedEntry>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.name + (e.kind == EntryKind::kDir ? "/" : ""));
  return out;
}

TEST(ListingMergerTest, DirectoryAfterOtherKeysShadowsFileAcrossPages) {
  ListingMerger m("d/");
  // Key order: d/a, d/a-b, d/a.txt | d/a/ (prefix), d/b.
  m.AddPage(Page({"d/a", "d/a-b", "d/a.txt"}, {}), false);
  EXPECT_TRUE(m.TakeReady().empty());  // "d/a/" may still come: hold everything back
  EXPECT_EQ(m.pending(), 3u);
  m.AddPage(Page({"d/b"}, {"d/a/"}), true);
  EXPECT_EQ(Names(m.TakeReady()), (std::vector<std::string>{"a/", "a-b", "a.txt", "b"}));
}

TEST(ListingMergerTest, ReleasesWhatNoLaterPageCanPrecede) {
  ListingMerger m("");
  m.AddPage(Page({"x1", "x2", "y"}, {"w/"}), false);
  // "y/" may still come after "y", so only "w/", "x1", "x2" are final.
  EXPECT_EQ(Names(m.TakeReady()), (std::vector<std::string>{"w/", "x1", "x2"}));
  m.AddPage(Page({"z"}, {}), true);
  EXPECT_EQ(Names(m.TakeReady()), (std::vector<std::string>{"y", "z"}));
}

TEST(ListingMergerTest, HidesInvalidNamesAndTheMarker) {
  ListingMerger m("d/");
  m.AddPage(Page({"d/", "d/ok", "d/" + std::string(256, 'n'), std::string("d/nul\0x", 7)},
                 {"d//", "d/./", "d/../", "d/sub/"}),
            true);
  EXPECT_EQ(Names(m.TakeReady()), (std::vector<std::string>{"ok", "sub/"}));
}

}  // namespace
}  // namespace s3m
