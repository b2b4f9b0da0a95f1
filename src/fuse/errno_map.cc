#include "fuse/errno_map.h"

#include <cerrno>

namespace s3m {

int ToErrno(const Status& status) {
  switch (status.code()) {
    case Code::kOk:
      return 0;
    case Code::kNotFound:
      return ENOENT;
    case Code::kAccessDenied:
      return EACCES;
    case Code::kPreconditionFailed:
    case Code::kStale:
      return ESTALE;
    case Code::kInvalidRange:
    case Code::kInvalidArgument:
      return EINVAL;
    case Code::kNotSupported:
      return ENOTSUP;
    case Code::kNotDirectory:
      return ENOTDIR;
    case Code::kIsDirectory:
      return EISDIR;
    case Code::kNotEmpty:
      return ENOTEMPTY;
    case Code::kExists:
      return EEXIST;
    case Code::kReadOnly:
      return EROFS;
    case Code::kPermission:
      return EPERM;
    case Code::kCrossDevice:
      return EXDEV;
    case Code::kBadHandle:
      return EBADF;
    case Code::kNameTooLong:
      return ENAMETOOLONG;
    case Code::kBusy:
      return EBUSY;
    case Code::kNoSpace:
      return ENOSPC;
    case Code::kCancelled:
      return EINTR;
    // The bucket vanishing, throttling that outlasted the retries, server and network
    // failures: the application can only report them, and EIO is what every tool expects.
    case Code::kNoSuchBucket:
    case Code::kThrottled:
    case Code::kServerError:
    case Code::kNetwork:
    case Code::kTimeout:
    case Code::kIo:
    case Code::kInternal:
      return EIO;
  }
  return EIO;
}

}  // namespace s3m
