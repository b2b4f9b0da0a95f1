// PosixMeta: the POSIX attributes that a --posix mount keeps in each object's user
// metadata, in the format s3fs-fuse writes, so that buckets written by either read back
// alike. All values are decimal strings (names without "x-amz-meta-"):
//   mode   st_mode; files and symlinks with their type bits (0100644, 0120777), directory
//          markers as s3fs writes them, without (0755). Both forms are accepted on read.
//   uid    owner, gid group
//   mtime  seconds since the epoch; written whole (s3fs reads integers), read with a
//          fraction too (rclone writes "1577836801.5").
// A symlink is an object whose body is the target and whose mode has S_IFLNK.
// Pure functions: any thread.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>

#include "s3/object_client.h"

namespace s3m {

inline constexpr char kMetaMode[] = "mode";
inline constexpr char kMetaUid[] = "uid";
inline constexpr char kMetaGid[] = "gid";
inline constexpr char kMetaMtime[] = "mtime";
inline constexpr uint32_t kSymlinkMode = S_IFLNK | 0777;  // s3fs: 41471
// The Content-Type s3fs gives directory markers ("name/").
inline constexpr char kDirContentType[] = "application/x-directory";
// The longest symlink target kept (PATH_MAX, with its terminating NUL).
inline constexpr uint64_t kMaxLinkTarget = 4095;

struct PosixAttrs {
  std::optional<uint32_t> mode;  // as stored (type bits may be absent)
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<int64_t> mtime_sec;
  int32_t mtime_nsec = 0;
};

// Values that do not parse are absent (the mount's defaults apply).
PosixAttrs ParsePosix(const Metadata& m);

// The st_mode of a file object: S_IFLNK when the stored mode says so, else S_IFREG, with
// the stored permission bits, or `default_perm` when there is no mode.
uint32_t FileModeOf(const PosixAttrs& a, uint32_t default_perm);
// The st_mode of a directory: S_IFDIR with the marker's permission bits or `default_perm`.
uint32_t DirModeOf(const PosixAttrs& a, uint32_t default_perm);
bool IsSymlink(const PosixAttrs& a);

// Writers: `mode` is stored as given (callers add or strip the type bits).
void SetModeMeta(Metadata& m, uint32_t mode);
void SetUidMeta(Metadata& m, uint32_t uid);
void SetGidMeta(Metadata& m, uint32_t gid);
void SetMtimeMeta(Metadata& m, int64_t sec);

}  // namespace s3m
