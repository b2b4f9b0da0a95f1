// Helpers of the file system test fixture (see fs_test_fixture.h).
#include "fs/fs_test_fixture.h"

namespace s3m {

std::string ModeName(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "Async" : "Inline";
}

Result<Entry> FsTest::LookupPath(const std::string& path) {
  Result<Entry> e = Entry{Attr{kRootInode, true}};
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    e = Lookup(e->attr.ino, path.substr(start, end - start));
    if (!e.ok()) return e;
    start = end + 1;
  }
  return e;
}

std::vector<DirEntry> FsTest::ListAll(InodeId ino, size_t chunk) {
  Result<uint64_t> h = fs_->OpenDir(ino);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  std::vector<DirEntry> all;
  uint64_t offset = 0;
  while (true) {
    auto r = ReadDir(ino, *h, offset, chunk);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->empty()) break;
    EXPECT_LE(r->size(), chunk);
    for (DirEntry& e : *r) {
      offset = e.next_offset;
      all.push_back(std::move(e));
    }
  }
  fs_->ReleaseDir(ino, *h);
  return all;
}

std::vector<std::string> FsTest::Names(InodeId ino) {
  std::vector<std::string> names;
  for (const DirEntry& e : ListAll(ino)) names.push_back(e.name + (e.attr.is_dir ? "/" : ""));
  return names;
}

Result<std::string> FsTest::ReadString(InodeId ino, uint64_t h, uint64_t offset, uint64_t size) {
  auto r = Wait<ReadData>([&](auto cb) { fs_->Read(ino, h, offset, size, cb); });
  if (!r.ok()) return r.status();
  std::string out;
  for (const iovec& v : r->iov) out.append(static_cast<const char*>(v.iov_base), v.iov_len);
  return out;
}

InodeId FsTest::WriteFile(InodeId parent, const std::string& name, const std::string& data) {
  auto c = Create(parent, name);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok()) return 0;
  InodeId ino = c->entry.attr.ino;
  if (!data.empty()) {
    EXPECT_TRUE(Write(ino, c->handle, 0, data).ok());
  }
  EXPECT_TRUE(Release(ino, c->handle).ok());
  fs_->DrainUploads();
  return ino;
}

}  // namespace s3m
