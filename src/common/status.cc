#include "common/status.h"

#include <fmt/format.h>

namespace s3m {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "NotFound";
    case Code::kNoSuchBucket:
      return "NoSuchBucket";
    case Code::kAccessDenied:
      return "AccessDenied";
    case Code::kPreconditionFailed:
      return "PreconditionFailed";
    case Code::kInvalidRange:
      return "InvalidRange";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kThrottled:
      return "Throttled";
    case Code::kServerError:
      return "ServerError";
    case Code::kNetwork:
      return "NetworkError";
    case Code::kTimeout:
      return "Timeout";
    case Code::kCancelled:
      return "Cancelled";
    case Code::kNotSupported:
      return "NotSupported";
    case Code::kIo:
      return "IoError";
    case Code::kInternal:
      return "InternalError";
    case Code::kNotDirectory:
      return "NotADirectory";
    case Code::kIsDirectory:
      return "IsADirectory";
    case Code::kNotEmpty:
      return "DirectoryNotEmpty";
    case Code::kExists:
      return "AlreadyExists";
    case Code::kReadOnly:
      return "ReadOnlyFileSystem";
    case Code::kPermission:
      return "NotPermitted";
    case Code::kCrossDevice:
      return "CrossDevice";
    case Code::kBadHandle:
      return "BadHandle";
    case Code::kNameTooLong:
      return "NameTooLong";
    case Code::kStale:
      return "Stale";
    case Code::kBusy:
      return "Busy";
    case Code::kNoSpace:
      return "NoSpace";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = s3_code_.empty() ? CodeName(code_) : s3_code_;
  if (http_status_ != 0 || !request_id_.empty()) {
    out += " (";
    if (http_status_ != 0) out += fmt::format("HTTP {}", http_status_);
    if (!request_id_.empty())
      out += fmt::format("{}request {}", http_status_ ? ", " : "", request_id_);
    out += ")";
  }
  if (!message_.empty()) out += ": " + message_;
  return out;
}

}  // namespace s3m
