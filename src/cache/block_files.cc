#include "cache/block_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace s3m {
namespace {

// O_DIRECT's alignment of memory, lengths and offsets: the logical block size of every
// disk s3mount meets is 512 or 4096.
constexpr uintptr_t kDirectAlign = 4096;

Status Errno(const std::string& what, int err) {
  Code code = err == ENOSPC || err == EDQUOT ? Code::kNoSpace : Code::kIo;
  return Status(code, fmt::format("{}: {}", what, std::strerror(err)));
}

void Advance(std::vector<iovec>& v, size_t& i, uint64_t n) {
  while (n > 0 && i < v.size()) {
    uint64_t take = std::min<uint64_t>(n, v[i].iov_len);
    v[i].iov_base = static_cast<char*>(v[i].iov_base) + take;
    v[i].iov_len -= take;
    n -= take;
    if (v[i].iov_len == 0) ++i;
  }
}

class PosixBlockFile : public BlockFile {
 public:
  PosixBlockFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixBlockFile() override { ::close(fd_); }

  Result<uint64_t> Read(uint64_t offset, const std::vector<iovec>& pieces) override {
    uint64_t total = 0;
    size_t i = 0;
    std::vector<iovec> rest = pieces;
    while (i < rest.size()) {
      ssize_t n = ::preadv(fd_, rest.data() + i, static_cast<int>(rest.size() - i),
                           static_cast<off_t>(offset + total));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot read " + path_, errno);
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      Advance(rest, i, static_cast<uint64_t>(n));
    }
    return total;
  }

  Result<uint64_t> NextData(uint64_t offset) override {
    off_t at = ::lseek(fd_, static_cast<off_t>(offset), SEEK_DATA);
    if (at < 0 && errno == ENXIO) return Status(Code::kNotFound, "no data past the offset");
    if (at < 0) return Errno("cannot seek " + path_, errno);
    return static_cast<uint64_t>(at);
  }

 private:
  const int fd_;
  const std::string path_;
};

Status PunchHole(int fd, uint64_t offset, uint64_t length, const std::string& path) {
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) != 0) {
    return Errno("cannot free part of " + path, errno);
  }
  return Status::Ok();
}

bool Aligned(const iovec& v) {
  return reinterpret_cast<uintptr_t>(v.iov_base) % kDirectAlign == 0 &&
         v.iov_len % kDirectAlign == 0;
}

class PosixBlockFiles : public BlockFiles {
 public:
  PosixBlockFiles(std::string root, int lock_fd) : root_(std::move(root)), lock_fd_(lock_fd) {}
  ~PosixBlockFiles() override { ::close(lock_fd_); }

  Status WriteAt(const std::string& name, uint64_t offset, const std::vector<iovec>& pieces,
                 PageCache page_cache) override {
    std::string path = Path(name);
    // The leading aligned pieces (a whole block's bytes) may go past the page cache; the
    // rest goes through it.
    size_t direct = 0;
    if (page_cache == PageCache::kBypass && offset % kDirectAlign == 0) {
      while (direct < pieces.size() && Aligned(pieces[direct])) ++direct;
    }
    int fd = OpenForWrite(path, direct > 0);
    if (fd < 0 && direct > 0 && errno == EINVAL) {  // no O_DIRECT on this file system
      direct = 0;
      fd = OpenForWrite(path, false);
    }
    if (fd < 0) return Errno("cannot create " + path, errno);
    std::vector<iovec> head(pieces.begin(), pieces.begin() + static_cast<long>(direct));
    std::vector<iovec> tail(pieces.begin() + static_cast<long>(direct), pieces.end());
    auto at = static_cast<off_t>(offset);
    Status s = WriteAll(fd, std::move(head), path, &at);
    if (s.ok() && direct > 0 && !tail.empty() &&
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_DIRECT) != 0) {
      s = Errno("cannot write " + path, errno);
    }
    if (s.ok()) s = WriteAll(fd, std::move(tail), path, &at);
    ::close(fd);
    return s;
  }

  Status Punch(const std::string& name, uint64_t offset, uint64_t length) override {
    std::string path = Path(name);
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open " + path, errno);
    Status s = PunchHole(fd, offset, length, path);
    ::close(fd);
    return s;
  }

  Result<std::shared_ptr<BlockFile>> Open(const std::string& name) override {
    std::string path = Path(name);
    // O_NOATIME: a read of a block changes nothing of it, not even its access time.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // not ours
    if (fd < 0) {
      if (errno == ENOENT) return Status(Code::kNotFound, "no block " + name);
      return Errno("cannot open " + path, errno);
    }
    // Reads are of one block or of its 4 KiB pieces, exactly what is needed: the kernel's
    // readahead would only read (or zero, in punched slots) pages nobody asked for.
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    return std::shared_ptr<BlockFile>(std::make_shared<PosixBlockFile>(fd, std::move(path)));
  }

  void Remove(const std::string& name) override { ::unlink(Path(name).c_str()); }

  std::vector<StoredFile> List() override {
    std::vector<StoredFile> out;
    DIR* top = ::opendir(root_.c_str());
    if (top == nullptr) return out;
    while (dirent* d = ::readdir(top)) {
      if (d->d_name[0] == '.' || std::strcmp(d->d_name, "lock") == 0) continue;
      std::string sub = d->d_name;
      DIR* in = ::opendir((root_ + "/" + sub).c_str());
      if (in == nullptr) continue;
      while (dirent* f = ::readdir(in)) {
        if (f->d_name[0] == '.') continue;
        std::string name = sub + "/" + f->d_name;
        struct stat st;
        if (::stat(Path(name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        out.push_back({name, static_cast<uint64_t>(st.st_size),
                       static_cast<uint64_t>(st.st_blocks) * 512,
                       st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec});
      }
      ::closedir(in);
    }
    ::closedir(top);
    return out;
  }

  Result<DiskSpace> Space() override {
    struct statvfs v;
    if (::statvfs(root_.c_str(), &v) != 0) return Errno("cannot statvfs " + root_, errno);
    return DiskSpace{static_cast<uint64_t>(v.f_bavail) * v.f_frsize,
                     static_cast<uint64_t>(v.f_blocks) * v.f_frsize};
  }

 private:
  std::string Path(const std::string& name) const { return root_ + "/" + name; }

  static int OpenForWrite(const std::string& path, bool direct) {
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (direct ? O_DIRECT : 0);
    int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0 && errno == ENOENT) {  // the folder is made with its first file
      ::mkdir(path.substr(0, path.rfind('/')).c_str(), 0700);
      fd = ::open(path.c_str(), flags, 0600);
    }
    return fd;
  }

  static Status WriteAll(int fd, std::vector<iovec> v, const std::string& path, off_t* at) {
    size_t i = 0;
    while (i < v.size()) {
      if (v[i].iov_len == 0) {
        ++i;
        continue;
      }
      ssize_t n = ::pwritev(fd, v.data() + i, static_cast<int>(v.size() - i), *at);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot write " + path, errno);
      *at += n;
      Advance(v, i, static_cast<uint64_t>(n));
    }
    return Status::Ok();
  }

  const std::string root_;
  const int lock_fd_;
};

}  // namespace

Result<std::unique_ptr<BlockFiles>> OpenPosixBlockFiles(const std::string& root) {
  if (::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("cannot create the cache folder " + root, errno);
  }
  std::string lock = root + "/lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot use the cache folder " + root, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status(Code::kBusy,
                    fmt::format("the cache folder {} is in use by another s3mount: give each "
                                "mount its own --cache",
                                root));
    }
    return Errno("cannot lock " + lock, err);
  }
  // Evicting a block frees its part of its object's file: without holes the bound could
  // not be kept.
  if (Status s = PunchHole(fd, 0, 4096, lock); !s.ok()) {
    ::close(fd);
    return Status(Code::kInvalidArgument,
                  fmt::format("the cache folder {} is on a file system that cannot free parts "
                              "of files (fallocate punch hole): use ext4, xfs, btrfs or tmpfs",
                              root));
  }
  return std::unique_ptr<BlockFiles>(std::make_unique<PosixBlockFiles>(root, fd));
}

}  // namespace s3m
