#include "metrics/prometheus_exporter.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "metrics/text_format.h"

namespace s3m::metrics {
namespace {

// A scraper (Prometheus, curl) holds one connection; a few more cover overlapping scrapes
// from several collectors, and the limit keeps a misbehaving client from holding threads.
constexpr unsigned kMaxConnections = 16;
// Seconds an idle connection is kept: Prometheus scrapes every 15-60 s and reconnects.
constexpr unsigned kConnectionTimeoutSeconds = 30;
constexpr int kListenBacklog = 16;

// The listening socket, bound and listening before libmicrohttpd gets it, so a port in use
// is reported with the system's reason. Returns -1 and sets `error` on failure.
int Listen(const std::string& address, uint16_t port, std::string* error, uint16_t* bound) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(*v6);
  } else {
    *error = "'" + address + "' is not an IPv4 or IPv6 address";
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // restarts reuse the port
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, kListenBacklog) != 0) {
    *error = std::strerror(errno);
    close(fd);
    return -1;
  }
  len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return fd;
}

MHD_Result Queue(MHD_Connection* connection, unsigned status, const std::string& body,
                 const char* content_type) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  MHD_Result r = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return r;
}

MHD_Result Handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char*, const char*, size_t* upload_size, void**) {
  const auto* registry = static_cast<const Registry*>(cls);
  if (*upload_size != 0) {  // a request with a body: ignore it, answer once it is read
    *upload_size = 0;
    return MHD_YES;
  }
  bool get = std::strcmp(method, MHD_HTTP_METHOD_GET) == 0;
  if (!get && std::strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
    return Queue(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n", "text/plain");
  }
  if (std::strcmp(url, "/metrics") != 0) {
    return Queue(connection, MHD_HTTP_NOT_FOUND, "s3mount serves /metrics\n", "text/plain");
  }
  return Queue(connection, MHD_HTTP_OK, FormatText(registry->Collect()), kTextContentType);
}

}  // namespace

struct PrometheusExporter::Daemon {
  MHD_Daemon* mhd = nullptr;
  ~Daemon() {
    if (mhd != nullptr) MHD_stop_daemon(mhd);  // also closes the listening socket
  }
};

Result<std::unique_ptr<PrometheusExporter>> PrometheusExporter::Start(const Registry* registry,
                                                                      const std::string& address,
                                                                      uint16_t port,
                                                                      const std::string& option) {
  std::string where = address.find(':') != std::string::npos ? fmt::format("[{}]:{}", address, port)
                                                             : fmt::format("{}:{}", address, port);
  std::string error;
  uint16_t bound = 0;
  int fd = Listen(address, port, &error, &bound);
  if (fd < 0) {
    return Status(Code::kInvalidArgument,
                  fmt::format("{} {}: cannot listen on {}: {}", option, port, where, error));
  }
  // One polling thread, with the poller libmicrohttpd picks (epoll on Linux): select() would
  // refuse a connection whose descriptor is past FD_SETSIZE, and a busy mount holds many.
  std::unique_ptr<PrometheusExporter> e(new PrometheusExporter());
  e->daemon_ = std::make_unique<Daemon>();
  e->daemon_->mhd = MHD_start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD, 0, nullptr, nullptr, &Handle, const_cast<Registry*>(registry),
      MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(fd), MHD_OPTION_CONNECTION_LIMIT,
      kMaxConnections, MHD_OPTION_CONNECTION_TIMEOUT, kConnectionTimeoutSeconds, MHD_OPTION_END);
  if (e->daemon_->mhd == nullptr) {
    close(fd);
    return Status(Code::kInternal,
                  fmt::format("{} {}: cannot start the HTTP server on {}", option, port, where));
  }
  e->port_ = bound;
  return e;
}

PrometheusExporter::~PrometheusExporter() = default;

}  // namespace s3m::metrics
