// Turning an S3 HTTP response into a Status: the category, the S3 code, HTTP status,
// request id, whether a retry can help, and a message that says what to do.
// Pure functions; any thread.
#pragma once

#include <string>

#include "common/status.h"
#include "http/http_client.h"

namespace s3m {

// For a response that is not a success (or a 200 whose body is an <Error>).
// `bucket` and `region` make the messages specific ("bucket 'x' does not exist").
Status StatusFromResponse(const HttpResponse& response, const std::string& bucket,
                          const std::string& region);

}  // namespace s3m
