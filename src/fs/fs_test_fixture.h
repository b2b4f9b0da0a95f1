// Test fixture for the file system core: a FileSystem over a MemoryObjectClient (inline
// or async completions, the test parameter), optionally behind a FaultInjectingClient,
// with a FakeClock for metadata expiry, and blocking helpers around the async methods.
// Tests only; one test thread drives the file system.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "fs/file_system.h"
#include "s3/fault_injecting_client.h"
#include "s3/memory_object_client.h"

namespace s3m {

class FsTest : public ::testing::TestWithParam<bool> {
 protected:
  FsTest()
      : mem_(std::make_unique<MemoryObjectClient>(MemoryObjectClient::Options{GetParam()})),
        faults_(std::make_unique<FaultInjectingClient>(mem_.get())) {}
  // The file system first; then the in-memory client, whose destructor runs the completions
  // still queued (they may call back through `faults_`, e.g. an upload's abort) and joins
  // its threads; only then the wrapper.
  ~FsTest() override {
    fs_.reset();
    mem_.reset();
  }

  // (Re)creates the file system with `o` (the fixture's clock is injected).
  FileSystem& Mount(FsOptions o = {}) {
    fs_.reset();
    o.clock = &clock_;
    fs_ = std::make_unique<FileSystem>(faults_.get(), &pool_, std::move(o));
    return *fs_;
  }
  // The same over another client (a decorator of mem(), e.g. one that acts as a given store).
  FileSystem& MountOver(ObjectClient* client, FsOptions o) {
    fs_.reset();
    o.clock = &clock_;
    fs_ = std::make_unique<FileSystem>(client, &pool_, std::move(o));
    return *fs_;
  }
  FileSystem& fs() { return *fs_; }
  MemoryObjectClient& mem() { return *mem_; }
  FaultInjectingClient& faults() { return *faults_; }
  uint64_t Count(S3Op op) const { return mem_->Count(op); }

  Result<Entry> Lookup(InodeId parent, const std::string& name) {
    return Wait<Entry>([&](auto cb) { fs_->Lookup(parent, name, cb); });
  }
  // Looks up a '/'-separated path from the root.
  Result<Entry> LookupPath(const std::string& path);
  Result<Attr> GetAttr(InodeId ino) {
    return Wait<Attr>([&](auto cb) { fs_->GetAttr(ino, cb); });
  }
  Result<std::vector<DirEntry>> ReadDir(InodeId ino, uint64_t h, uint64_t offset, size_t max) {
    return Wait<std::vector<DirEntry>>([&](auto cb) { fs_->ReadDir(ino, h, offset, max, cb); });
  }
  // Every entry of a directory, read `chunk` entries at a time.
  std::vector<DirEntry> ListAll(InodeId ino, size_t chunk = 100);
  std::vector<std::string> Names(InodeId ino);

  Result<OpenResult> Open(InodeId ino, int flags) {
    return Wait<OpenResult>([&](auto cb) { fs_->Open(ino, flags, cb); });
  }
  Result<std::string> ReadString(InodeId ino, uint64_t h, uint64_t offset, uint64_t size);
  Result<CreateResult> Create(InodeId parent, const std::string& name) {
    return Wait<CreateResult>([&](auto cb) { fs_->Create(parent, name, 0644, O_WRONLY, cb); });
  }
  Result<uint64_t> Write(InodeId ino, uint64_t h, uint64_t offset, const std::string& s) {
    return fs_->Write(ino, h, offset, s.data(), s.size());
  }
  Result<Empty> Flush(InodeId ino, uint64_t h) {
    return Wait<Empty>([&](auto cb) { fs_->Flush(ino, h, cb); });
  }
  Result<Empty> Release(InodeId ino, uint64_t h) {
    return Wait<Empty>([&](auto cb) { fs_->Release(ino, h, cb); });
  }
  // Create + write + release + drain: a complete new object.
  InodeId WriteFile(InodeId parent, const std::string& name, const std::string& data);
  Result<Entry> Mkdir(InodeId parent, const std::string& name) {
    return Wait<Entry>([&](auto cb) { fs_->Mkdir(parent, name, 0755, cb); });
  }
  Result<Empty> Rmdir(InodeId parent, const std::string& name) {
    return Wait<Empty>([&](auto cb) { fs_->Rmdir(parent, name, cb); });
  }
  Result<Empty> Unlink(InodeId parent, const std::string& name) {
    return Wait<Empty>([&](auto cb) { fs_->Unlink(parent, name, cb); });
  }
  Result<Attr> SetAttr(InodeId ino, const Attr& want, bool size, bool mode, bool owner,
                       uint64_t handle = 0) {
    unsigned to_set = (size ? FileSystem::kSetSize : 0) | (mode ? FileSystem::kSetMode : 0) |
                      (owner ? FileSystem::kSetUid | FileSystem::kSetGid : 0);
    return SetAttrs(ino, want, to_set, handle);
  }
  // `to_set`: FileSystem::kSet* bits.
  Result<Attr> SetAttrs(InodeId ino, const Attr& want, unsigned to_set, uint64_t handle = 0) {
    return Wait<Attr>([&](auto cb) { fs_->SetAttr(ino, want, to_set, handle, cb); });
  }

  FakeClock clock_;
  MemoryBudget budget_{256 << 20};
  BufferPool pool_{&budget_};
  // Destroyed in reverse: the file system before the clients it calls.
  std::unique_ptr<MemoryObjectClient> mem_;
  std::unique_ptr<FaultInjectingClient> faults_;
  std::unique_ptr<FileSystem> fs_;
};

std::string ModeName(const ::testing::TestParamInfo<bool>& info);

#define S3M_FS_TEST_SUITE(Suite) \
  INSTANTIATE_TEST_SUITE_P(InlineAndAsync, Suite, ::testing::Values(false, true), ModeName)

// Asserts a Result failed with `code`.
#define EXPECT_CODE(result, want) EXPECT_EQ((result).status().code(), (want))

}  // namespace s3m
