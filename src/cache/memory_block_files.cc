#include "cache/memory_block_files.h"

#include <algorithm>
#include <cstring>

namespace s3m {

namespace {
constexpr uint64_t kPage = 4096;
}  // namespace

Status MemoryBlockFiles::WriteAt(const std::string& name, uint64_t offset,
                                 const std::vector<iovec>& pieces, PageCache page_cache) {
  std::string data;
  for (const iovec& v : pieces) data.append(static_cast<const char*>(v.iov_base), v.iov_len);
  std::unique_lock l(mu_);
  released_.wait(l, [this] { return !hold_; });
  if (fail_) return Status(Code::kNoSpace, "no space left on device");
  if (page_cache == PageCache::kBypass) ++bypassing_writes_;
  ++writes_;
  std::string& file = files_[name];
  if (file.size() < offset + data.size()) file.resize(offset + data.size());
  std::memcpy(file.data() + offset, data.data(), data.size());
  for (uint64_t p = offset / kPage; p * kPage < offset + data.size(); ++p) pages_[name].insert(p);
  written_[name] = ++clock_;
  return Status::Ok();
}

Status MemoryBlockFiles::Punch(const std::string& name, uint64_t offset, uint64_t length) {
  std::lock_guard l(mu_);
  auto it = files_.find(name);
  if (it == files_.end()) return Status(Code::kNotFound, "no file " + name);
  std::string& file = it->second;
  if (offset < file.size()) {
    std::memset(file.data() + offset, 0, std::min<uint64_t>(length, file.size() - offset));
  }
  auto& pages = pages_[name];
  pages.erase(pages.lower_bound(offset / kPage), pages.lower_bound((offset + length) / kPage));
  return Status::Ok();
}

class MemoryBlockFiles::File : public BlockFile {
 public:
  File(MemoryBlockFiles* files, std::string name) : files_(files), name_(std::move(name)) {}
  Result<uint64_t> Read(uint64_t offset, const std::vector<iovec>& pieces) override {
    return files_->ReadFile(name_, offset, pieces);
  }
  Result<uint64_t> NextData(uint64_t offset) override { return files_->NextData(name_, offset); }

 private:
  MemoryBlockFiles* const files_;
  const std::string name_;
};

Result<std::shared_ptr<BlockFile>> MemoryBlockFiles::Open(const std::string& name) {
  std::lock_guard l(mu_);
  if (files_.count(name) == 0) return Status(Code::kNotFound, "no block " + name);
  return std::shared_ptr<BlockFile>(std::make_shared<File>(this, name));
}

Result<uint64_t> MemoryBlockFiles::ReadFile(const std::string& name, uint64_t offset,
                                            const std::vector<iovec>& pieces) {
  std::lock_guard l(mu_);
  auto it = files_.find(name);
  if (it == files_.end()) return Status(Code::kNotFound, "no block " + name);
  uint64_t at = std::min<uint64_t>(offset, it->second.size()), got = 0;
  for (const iovec& v : pieces) {
    uint64_t n = std::min<uint64_t>(v.iov_len, it->second.size() - at);
    std::memcpy(v.iov_base, it->second.data() + at, n);
    at += n;
    got += n;
    bytes_read_ += n;
    if (n < v.iov_len) break;
  }
  return got;
}

Result<uint64_t> MemoryBlockFiles::NextData(const std::string& name, uint64_t offset) {
  std::lock_guard l(mu_);
  auto file = pages_.find(name);
  if (file == pages_.end()) return Status(Code::kNotFound, "no data past the offset");
  auto it = file->second.lower_bound(offset / kPage);
  if (it == file->second.end()) return Status(Code::kNotFound, "no data past the offset");
  return std::max(offset, *it * kPage);
}

void MemoryBlockFiles::Remove(const std::string& name) {
  std::lock_guard l(mu_);
  files_.erase(name);
  pages_.erase(name);
  written_.erase(name);
}

std::vector<StoredFile> MemoryBlockFiles::List() {
  std::lock_guard l(mu_);
  std::vector<StoredFile> out;
  for (const auto& [name, data] : files_) {
    out.push_back({name, data.size(), pages_[name].size() * kPage, written_[name]});
  }
  return out;
}

Result<DiskSpace> MemoryBlockFiles::Space() {
  std::lock_guard l(mu_);
  return space_;
}

void MemoryBlockFiles::HoldWrites(bool hold) {
  {
    std::lock_guard l(mu_);
    hold_ = hold;
  }
  released_.notify_all();
}

void MemoryBlockFiles::FailWrites(bool fail) {
  std::lock_guard l(mu_);
  fail_ = fail;
}

void MemoryBlockFiles::SetSpace(DiskSpace space) {
  std::lock_guard l(mu_);
  space_ = space;
}

void MemoryBlockFiles::Damage(const std::string& name, uint64_t offset) {
  std::lock_guard l(mu_);
  files_.at(name).at(offset) ^= 0x5a;
}

void MemoryBlockFiles::Cut(const std::string& name, uint64_t size) {
  std::lock_guard l(mu_);
  files_.at(name).resize(size);
  auto& pages = pages_[name];
  pages.erase(pages.lower_bound((size + kPage - 1) / kPage), pages.end());
}

uint64_t MemoryBlockFiles::bytes_read() const {
  std::lock_guard l(mu_);
  return bytes_read_;
}

size_t MemoryBlockFiles::writes() const {
  std::lock_guard l(mu_);
  return writes_;
}

size_t MemoryBlockFiles::bypassing_writes() const {
  std::lock_guard l(mu_);
  return bypassing_writes_;
}

uint64_t MemoryBlockFiles::allocated_bytes() const {
  std::lock_guard l(mu_);
  uint64_t n = 0;
  for (const auto& [name, pages] : pages_) n += pages.size() * kPage;
  return n;
}

std::map<std::string, std::string> MemoryBlockFiles::files() const {
  std::lock_guard l(mu_);
  return files_;
}

}  // namespace s3m
