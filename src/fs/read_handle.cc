// ReadHandle and the defaults of FileHandle.
#include "fs/read_handle.h"

#include "fs/inode_table.h"

namespace s3m {

void FileHandle::Read(uint64_t, uint64_t, std::function<void(Result<ReadData>)> done) {
  done(Status(Code::kBadHandle, "file not opened for reading"));
}

Result<uint64_t> FileHandle::Write(uint64_t, const char*, uint64_t) {
  return Status(Code::kBadHandle, "file not opened for writing");
}

Status FileHandle::Truncate(uint64_t) {
  return Status(Code::kBadHandle, "file not opened for writing");
}

void ReadHandle::Read(uint64_t offset, uint64_t size, std::function<void(Result<ReadData>)> done) {
  reader_->Read(offset, size, [inode = inode(), done = std::move(done)](Result<ReadData> r) {
    Code c = r.status().code();
    if (c == Code::kStale || c == Code::kPreconditionFailed || c == Code::kNotFound) {
      // The object changed or went away since open: never mix two versions. What is cached
      // about it is stale too, so that opening it again asks S3 rather than waiting out the
      // metadata TTL.
      {
        std::lock_guard l(inode->mu);
        if (inode->st.where == Locality::kRemote) inode->st.expiry = MonoTime::min();
      }
      return done(Status(Code::kStale, "the object changed since it was opened; open it again"));
    }
    done(std::move(r));
  });
}

}  // namespace s3m
