// HttpClient: the asynchronous HTTP transport the S3 client sends its requests through.
//
// Send() queues a request and returns at once; `done` is called exactly once on the
// transport's event-loop thread. Callbacks (done, on_progress, timers) must not block.
// Send() and Schedule() may be called from any thread, including from callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace s3m {

using Header = std::pair<std::string, std::string>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;              // fully encoded
  std::vector<Header> headers;  // sent as given (already signed)
  // Request body, owned by the caller until `done` runs. Sent without copying.
  const char* body = nullptr;
  uint64_t body_size = 0;
  // Response body destination. When set, the body of a 2xx response is written here (at
  // most response_capacity bytes; more is an error); otherwise, or for non-2xx
  // responses, it is collected in HttpResponse::body.
  char* response_buffer = nullptr;
  uint64_t response_capacity = 0;
  // Called with the total bytes received into response_buffer so far. Optional.
  std::function<void(uint64_t)> on_progress;
  // A HEAD request (no body in the response).
  bool head = false;
};

struct HttpResponse {
  Status transport;  // non-ok when no HTTP response was received (connect error, timeout)
  // False only when the request certainly never reached the server (it could not
  // connect), so even a non-idempotent request may be sent again.
  bool maybe_sent = true;
  int status = 0;
  std::vector<s3m::Header> headers;  // names lower-cased (qualified: see Header() below)
  std::string body;                  // see HttpRequest::response_buffer
  uint64_t buffer_bytes = 0;         // bytes written to HttpRequest::response_buffer

  // First header with this lower-case name, or empty.
  std::string Header(const std::string& name) const;
};

struct HttpStats {
  uint64_t requests = 0;  // completed requests
  uint64_t connections_opened = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t max_in_flight = 0;  // the highest number of requests active at once
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual void Send(HttpRequest request, std::function<void(HttpResponse)> done) = 0;
  // Runs `fn` on the event-loop thread after `delay` (used for retry back-off). At
  // shutdown, pending and new timers run at once instead, so that what they start sees
  // the cancellation rather than never completing.
  virtual void Schedule(std::chrono::nanoseconds delay, std::function<void()> fn) = 0;
  virtual HttpStats Stats() const = 0;
};

struct CurlHttpOptions {
  int max_connections = 64;  // bound on connections, and so on requests in flight
  int event_threads = 1;     // event-loop threads, each with its own curl multi
  std::string ca_bundle;     // CA file; empty uses the system store
  bool verify_tls = true;
  std::chrono::milliseconds connect_timeout{10000};
  // A transfer that moves fewer than low_speed_bytes per low_speed_window is aborted
  // as stalled (kTimeout).
  long low_speed_bytes = 1;
  std::chrono::seconds low_speed_window{30};
  std::string user_agent;  // the User-Agent header; empty: none
  // Network interfaces (--bind) the requests take in turn, so connections spread over
  // them; empty: the routing table decides.
  std::vector<std::string> interfaces;
  // Receives libcurl's debug lines (connections, TLS, request and response headers, with
  // credentials redacted) when set (--debug-crt). Called on event-loop threads.
  std::function<void(const std::string&)> debug_log;
};

// The libcurl-multi transport.
std::unique_ptr<HttpClient> NewCurlHttpClient(const CurlHttpOptions& options);

// One blocking request on a private easy handle: for credential and metadata look-ups
// (IMDS, container endpoints) that happen rarely and off the data path.
struct SimpleHttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<Header> headers;
  std::string body;
  std::chrono::milliseconds timeout{1000};
};
HttpResponse FetchBlocking(const SimpleHttpRequest& request);

}  // namespace s3m
