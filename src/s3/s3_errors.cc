#include "s3/s3_errors.h"

#include <fmt/format.h>

#include <map>

#include "s3/s3_xml.h"

namespace s3m {
namespace {

struct Kind {
  Code code;
  bool retryable;
};

// S3 error codes we treat specially; others fall back to the HTTP status.
const std::map<std::string, Kind>& KnownCodes() {
  static const std::map<std::string, Kind> codes = {
      {"NoSuchKey", {Code::kNotFound, false}},
      {"NoSuchUpload", {Code::kNotFound, false}},
      {"NoSuchBucket", {Code::kNoSuchBucket, false}},
      {"AccessDenied", {Code::kAccessDenied, false}},
      {"InvalidAccessKeyId", {Code::kAccessDenied, false}},
      {"SignatureDoesNotMatch", {Code::kAccessDenied, false}},
      {"InvalidToken", {Code::kAccessDenied, false}},
      {"ExpiredToken", {Code::kAccessDenied, true}},  // retried with refreshed credentials
      {"AllAccessDisabled", {Code::kAccessDenied, false}},
      {"PreconditionFailed", {Code::kPreconditionFailed, false}},
      // 409 on a conditional write that raced another write of the key: the condition
      // cannot be known to hold, and the caller decides what a lost race means.
      {"ConditionalRequestConflict", {Code::kPreconditionFailed, false}},
      {"InvalidRange", {Code::kInvalidRange, false}},
      {"SlowDown", {Code::kThrottled, true}},
      {"Throttling", {Code::kThrottled, true}},
      {"RequestLimitExceeded", {Code::kThrottled, true}},
      {"RequestTimeout", {Code::kTimeout, true}},
      {"InternalError", {Code::kServerError, true}},
      {"ServiceUnavailable", {Code::kThrottled, true}},
      {"AuthorizationHeaderMalformed", {Code::kInvalidArgument, false}},
      {"PermanentRedirect", {Code::kInvalidArgument, false}},
      {"InvalidObjectState", {Code::kAccessDenied, false}},  // archived (Glacier) objects
      {"NotImplemented", {Code::kNotSupported, false}},
  };
  return codes;
}

Kind FromHttpStatus(int status) {
  switch (status) {
    case 301:
    case 307:
    case 400:
      return {Code::kInvalidArgument, false};
    case 403:
      return {Code::kAccessDenied, false};
    case 404:
      return {Code::kNotFound, false};
    case 412:
      return {Code::kPreconditionFailed, false};
    case 416:
      return {Code::kInvalidRange, false};
    case 429:
    case 503:
      return {Code::kThrottled, true};
    case 501:
      return {Code::kNotSupported, false};
    default:
      break;
  }
  if (status >= 500) return {Code::kServerError, true};
  return {Code::kInternal, false};
}

std::string Explain(const Status& s, const HttpResponse& r, const std::string& bucket,
                    const std::string& region) {
  const std::string& code = s.s3_code();
  if (code == "NoSuchBucket" || (s.code() == Code::kNoSuchBucket)) {
    return fmt::format("bucket '{}' does not exist", bucket);
  }
  std::string actual = r.Header("x-amz-bucket-region");
  if (code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || r.status == 301 ||
      (!actual.empty() && actual != region)) {
    if (!actual.empty() && actual != region) {
      return fmt::format("bucket '{}' is in region {}, not {}: use --region {}", bucket, actual,
                         region, actual);
    }
    return fmt::format("bucket '{}' is not in region {}: set the right one with --region", bucket,
                       region);
  }
  if (s.code() == Code::kAccessDenied && code != "InvalidObjectState") {
    return "access denied: check the credentials (AWS_ACCESS_KEY_ID, --profile) and the bucket "
           "policy";
  }
  return "";
}

}  // namespace

Status StatusFromResponse(const HttpResponse& response, const std::string& bucket,
                          const std::string& region) {
  S3ErrorBody body;
  bool has_body = ParseErrorBody(response.body, &body);
  Kind kind = FromHttpStatus(response.status);
  if (has_body) {
    auto it = KnownCodes().find(body.code);
    if (it != KnownCodes().end()) kind = it->second;
  }
  // A 200 carrying an <Error> (CompleteMultipartUpload, CopyObject) failed on the server side.
  if (response.status == 200) kind = {Code::kServerError, true};
  Status s(kind.code, has_body ? body.message : "");
  s.set_http_status(response.status)
      .set_s3_code(has_body ? body.code : "")
      .set_request_id(has_body && !body.request_id.empty() ? body.request_id
                                                           : response.Header("x-amz-request-id"))
      .set_retryable(kind.retryable);
  std::string hint = Explain(s, response, bucket, region);
  if (!hint.empty()) {
    s.set_message(s.message().empty() ? hint : hint + " (" + s.message() + ")");
  } else if (s.message().empty()) {
    s.set_message(fmt::format("HTTP {}", response.status));
  }
  return s;
}

}  // namespace s3m
