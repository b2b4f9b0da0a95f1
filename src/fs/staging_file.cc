#include "fs/staging_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace s3m {
namespace {

Status IoError(const char* what, int err) {
  // A full disk is the staging budget's concern too: the caller sees ENOSPC either way.
  Code c = (err == ENOSPC || err == EDQUOT) ? Code::kNoSpace : Code::kIo;
  return Status(c, std::string("staging file: ") + what + ": " + std::strerror(err));
}

}  // namespace

Result<std::unique_ptr<StagingFile>> StagingFile::Create(const std::string& dir) {
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    std::string path = dir + "/s3mount-staging-XXXXXX";
    fd = mkostemp(path.data(), O_CLOEXEC);
    if (fd >= 0) unlink(path.c_str());
  }
  if (fd < 0) {
    return Status(errno == ENOSPC ? Code::kNoSpace : Code::kIo,
                  "cannot create a staging file in " + dir + ": " + std::strerror(errno));
  }
  return std::unique_ptr<StagingFile>(new StagingFile(fd));
}

StagingFile::~StagingFile() {
  close(fd_);
}

Status StagingFile::Write(uint64_t offset, const char* data, uint64_t size) {
  while (size > 0) {
    ssize_t n = pwrite(fd_, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError("write", n < 0 ? errno : ENOSPC);
    data += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status StagingFile::Read(uint64_t offset, char* out, uint64_t size) const {
  while (size > 0) {
    ssize_t n = pread(fd_, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("read", errno);
    if (n == 0) {  // past the end: zeros
      std::memset(out, 0, size);
      return Status::Ok();
    }
    out += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status StagingFile::Truncate(uint64_t size) {
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0) return IoError("truncate", errno);
  return Status::Ok();
}

}  // namespace s3m
