// Status and Result<T>: the one error type that crosses module boundaries.
// A Status carries a category (Code), and for S3 errors the S3 error code, HTTP status,
// request id and whether a retry can help. Values are immutable; any thread may use them.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace s3m {

enum class Code {
  kOk = 0,
  kNotFound,            // NoSuchKey / 404 on an object
  kNoSuchBucket,        // the bucket does not exist
  kAccessDenied,        // 403, bad credentials, signature mismatch
  kPreconditionFailed,  // If-Match / If-None-Match failed (object changed)
  kInvalidRange,        // 416
  kInvalidArgument,     // a caller error (bad option, bad key, 400)
  kThrottled,           // 429 / 503 SlowDown
  kServerError,         // other 5xx
  kNetwork,             // connection refused/reset, DNS, TLS
  kTimeout,             // connect timeout, stalled body
  kCancelled,           // the request was abandoned on shutdown
  kNotSupported,        // an operation the store or file system cannot do
  kIo,                  // a local I/O error
  kInternal,            // anything else
  // File-system outcomes (the FUSE adapter maps each to one errno).
  kNotDirectory,  // ENOTDIR
  kIsDirectory,   // EISDIR
  kNotEmpty,      // ENOTEMPTY
  kExists,        // EEXIST
  kReadOnly,      // EROFS
  kPermission,    // EPERM: the mount's options forbid it (e.g. no --allow-delete)
  kCrossDevice,   // EXDEV: rename, so that mv falls back to copy and delete
  kBadHandle,     // EBADF
  kNameTooLong,   // ENAMETOOLONG
  kStale,         // ESTALE: the object changed under an open handle
  kBusy,          // EBUSY
  kNoSpace,       // ENOSPC: the local staging space is used up
};

const char* CodeName(Code code);

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // S3 details, empty for non-S3 errors.
  int http_status() const { return http_status_; }
  const std::string& s3_code() const { return s3_code_; }
  const std::string& request_id() const { return request_id_; }
  bool retryable() const { return retryable_; }

  Status& set_http_status(int s) {
    http_status_ = s;
    return *this;
  }
  Status& set_s3_code(std::string c) {
    s3_code_ = std::move(c);
    return *this;
  }
  Status& set_request_id(std::string r) {
    request_id_ = std::move(r);
    return *this;
  }
  Status& set_retryable(bool r) {
    retryable_ = r;
    return *this;
  }
  Status& set_message(std::string m) {
    message_ = std::move(m);
    return *this;
  }

  // "NoSuchKey (HTTP 404, request 1234): The specified key does not exist."
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int http_status_ = 0;
  std::string s3_code_;
  std::string request_id_;
  bool retryable_ = false;
};

// Result<T> holds either a value or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace s3m
