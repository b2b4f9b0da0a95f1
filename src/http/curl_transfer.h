// One HTTP request's state while libcurl runs it: the request, the response being filled
// in, and the easy handle configured for it. Internal to src/http.
//
// Threading: a Transfer belongs to one event-loop thread from the moment it is started
// until its completion callback runs; libcurl's callbacks for it run on that thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "http/curl_handles.h"
#include "http/http_client.h"

namespace s3m {

struct Transfer {
  HttpRequest request;
  std::function<void(HttpResponse)> done;
  HttpResponse response;
  size_t loop_index = 0;       // the event loop that runs it
  std::string bind_interface;  // --bind: the interface this request leaves by; empty: any

  CurlEasy easy;  // set while libcurl runs the transfer
  CurlHeaderList headers;
  uint64_t body_offset = 0;  // next request-body byte to send (PUT)
  Status abort_status;       // set by a callback that aborted the transfer
  char error[CURL_ERROR_SIZE] = {};

  // Filled by FinishTransfer for HttpStats.
  uint64_t connects = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
};

// Sets every option for `t` on t.easy, a fresh or curl_easy_reset handle.
Status ConfigureTransfer(Transfer& t, const CurlHttpOptions& options);

// A header line as --debug-crt may log it: the values of Authorization and the security
// token replaced by "[redacted]".
std::string RedactHeaderLine(const std::string& line);

// Fills t.response (status, transport error) and the counters once libcurl finished the
// transfer with `result`.
void FinishTransfer(Transfer& t, CURLcode result);

// The Status for a libcurl error; `detail` is the error buffer text (may be empty).
Status CurlErrorStatus(CURLcode code, const char* detail, const std::string& url);

// The host[:port] of a URL, without user info, path or query (which may hold presigned
// credentials), for error messages.
std::string UrlHost(const std::string& url);

}  // namespace s3m
