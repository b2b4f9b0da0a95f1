// Tests for the libcurl HTTP transport against a real local HTTP/1.1 server
// (tests/fixtures/http_test_server.py, started per test).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"

extern char** environ;

namespace s3m {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Generous: a test that hangs fails instead of blocking ctest.
constexpr auto kWaitLimit = std::chrono::seconds(15);

// The server's /bytes pattern.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + 3) % 256);
  return s;
}

std::string ServerScript() {
  const char* dir = std::getenv("S3MOUNT_SOURCE_DIR");
  std::string root = dir != nullptr ? dir : S3MOUNT_DEFAULT_SOURCE_DIR;
  return root + "/tests/fixtures/http_test_server.py";
}

// Waits for `count` callbacks.
class Countdown {
 public:
  explicit Countdown(int count) : count_(count) {}
  void Done() {
    std::lock_guard lock(mu_);
    if (--count_ == 0) cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWaitLimit, [this] { return count_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_;
};

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::string script = ServerScript();
    std::vector<char*> argv = {const_cast<char*>("python3"), script.data(), nullptr};
    int rc = posix_spawnp(&server_pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    ASSERT_EQ(rc, 0) << "cannot start python3";
    server_out_ = fds[0];
    std::string line;
    char c;
    while (read(server_out_, &c, 1) == 1 && c != '\n') line += c;
    port_ = std::atoi(line.c_str());
    ASSERT_GT(port_, 0) << "server did not print its port: " << script;
  }

  void TearDown() override {
    if (server_pid_ > 0) {
      kill(server_pid_, SIGKILL);
      waitpid(server_pid_, nullptr, 0);
    }
    if (server_out_ >= 0) close(server_out_);
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  static HttpResponse SendAndWait(HttpClient& client, HttpRequest request) {
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    std::future<HttpResponse> future = promise->get_future();
    client.Send(std::move(request),
                [promise](HttpResponse r) { promise->set_value(std::move(r)); });
    if (future.wait_for(kWaitLimit) != std::future_status::ready) {
      ADD_FAILURE() << "request did not complete";
      std::abort();  // the callback still references the promise; nothing sane to return
    }
    return future.get();
  }

  static CurlHttpOptions Options() {
    CurlHttpOptions options;
    options.max_connections = 8;
    options.connect_timeout = milliseconds(2000);
    options.low_speed_window = std::chrono::seconds(5);
    return options;
  }

  pid_t server_pid_ = -1;
  int server_out_ = -1;
  int port_ = 0;
};

TEST_F(HttpClientTest, GetIntoCallerBuffer) {
  auto client = NewCurlHttpClient(Options());
  constexpr size_t kSize = 300000;  // several receive buffers, so several progress calls
  std::string buffer(kSize, '\0');
  std::vector<uint64_t> progress;
  HttpRequest request;
  request.url = Url("/bytes?n=" + std::to_string(kSize));
  request.response_buffer = buffer.data();
  request.response_capacity = kSize;
  request.on_progress = [&progress](uint64_t total) { progress.push_back(total); };
  HttpResponse r = SendAndWait(*client, std::move(request));
  ASSERT_TRUE(r.transport.ok()) << r.transport.ToString();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.buffer_bytes, kSize);
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(buffer == Pattern(kSize));
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_EQ(progress.back(), kSize);
  EXPECT_EQ(r.Header("content-length"), std::to_string(kSize));
  EXPECT_EQ(r.Header("x-test"), "padded value");  // trimmed
  EXPECT_EQ(r.Header("missing"), "");
  HttpStats stats = client->Stats();
  EXPECT_EQ(stats.requests, 1u);
  EXPECT_GE(stats.bytes_received, kSize);
}

TEST_F(HttpClientTest, Head) {
  auto client = NewCurlHttpClient(Options());
  HttpRequest request;
  request.method = "HEAD";
  request.head = true;
  request.url = Url("/bytes?n=123");
  HttpResponse r = SendAndWait(*client, std::move(request));
  ASSERT_TRUE(r.transport.ok()) << r.transport.ToString();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), "123");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(HttpClientTest, PutSendsCallerMemoryWithoutExpect) {
  auto client = NewCurlHttpClient(Options());
  const std::string body = Pattern(200000);
  uint64_t sum = 0;
  for (unsigned char c : body) sum += c;
  HttpRequest request;
  request.method = "PUT";
  request.url = Url("/echo?X-Amz-Signature=abc");
  request.headers = {{"X-Amz-Meta-Test", "yes"}};
  request.body = body.data();
  request.body_size = body.size();
  HttpResponse r = SendAndWait(*client, std::move(request));
  ASSERT_TRUE(r.transport.ok()) << r.transport.ToString();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("method=PUT\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("length=200000\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("sum=" + std::to_string(sum) + "\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("h:x-amz-meta-test=yes\n"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("h:expect="), std::string::npos) << r.body;
  EXPECT_GE(client->Stats().bytes_sent, body.size());

  HttpRequest empty;  // an empty object: no body pointer at all
  empty.method = "PUT";
  empty.url = Url("/echo");
  r = SendAndWait(*client, std::move(empty));
  ASSERT_TRUE(r.transport.ok()) << r.transport.ToString();
  EXPECT_NE(r.body.find("method=PUT\nlength=0\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("h:content-length=0\n"), std::string::npos) << r.body;
}

TEST_F(HttpClientTest, PostAndDelete) {
  auto client = NewCurlHttpClient(Options());
  const std::string body = "<Delete></Delete>";
  HttpRequest post;
  post.method = "POST";
  post.url = Url("/echo");
  post.body = body.data();
  post.body_size = body.size();
  HttpResponse r = SendAndWait(*client, post);
  ASSERT_TRUE(r.transport.ok()) << r.transport.ToString();
  EXPECT_NE(r.body.find("method=POST\nlength=17\n"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("h:content-type="), std::string::npos) << r.body;

  post.headers = {{"Content-Type", "application/xml"}};
  r = SendAndWait(*client, post);
  EXPECT_NE(r.body.find("h:content-type=application/xml\n"), std::string::npos) << r.body;

  HttpRequest del;
  del.method = "DELETE";
  del.url = Url("/echo");
  r = SendAndWait(*client, std::move(del));
  ASSERT_TRUE(r.transport.ok()) << r.transport.ToString();
  EXPECT_NE(r.body.find("method=DELETE\nlength=0\n"), std::string::npos) << r.body;
}

TEST_F(HttpClientTest, ErrorBodyGoesToBodyNotBuffer) {
  auto client = NewCurlHttpClient(Options());
  std::string buffer(1000, '\0');
  HttpRequest request;
  request.url = Url("/status?code=503");
  request.response_buffer = buffer.data();
  request.response_capacity = buffer.size();
  HttpResponse r = SendAndWait(*client, std::move(request));
  ASSERT_TRUE(r.transport.ok()) << r.transport.ToString();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "<Error><Code>Status503</Code></Error>");
  EXPECT_EQ(r.buffer_bytes, 0u);
}

TEST_F(HttpClientTest, BufferOverflowIsAnError) {
  auto client = NewCurlHttpClient(Options());
  std::string buffer(1000, '\0');
  HttpRequest request;
  request.url = Url("/bytes?n=10000");
  request.response_buffer = buffer.data();
  request.response_capacity = buffer.size();
  HttpResponse r = SendAndWait(*client, std::move(request));
  EXPECT_EQ(r.transport.code(), Code::kInternal) << r.transport.ToString();
  EXPECT_LE(r.buffer_bytes, buffer.size());
}

TEST_F(HttpClientTest, ConcurrentRequestsAreBoundedAndReuseConnections) {
  auto client = NewCurlHttpClient(Options());  // max_connections = 8
  constexpr int kRequests = 64;
  constexpr size_t kSize = 50000;
  std::vector<std::string> buffers(kRequests, std::string(kSize, '\0'));
  std::vector<HttpResponse> responses(kRequests);
  Countdown countdown(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    HttpRequest request;
    request.url = Url("/bytes?n=" + std::to_string(kSize));
    request.response_buffer = buffers[i].data();
    request.response_capacity = kSize;
    client->Send(std::move(request), [&, i](HttpResponse r) {
      responses[i] = std::move(r);
      countdown.Done();
    });
  }
  ASSERT_TRUE(countdown.Wait());
  const std::string expected = Pattern(kSize);
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(responses[i].transport.ok()) << responses[i].transport.ToString();
    EXPECT_EQ(responses[i].status, 200);
    EXPECT_TRUE(buffers[i] == expected) << i;
  }
  HttpStats stats = client->Stats();
  EXPECT_EQ(stats.requests, uint64_t{kRequests});
  EXPECT_GE(stats.max_in_flight, 1u);
  EXPECT_LE(stats.max_in_flight, 8u);
  EXPECT_GE(stats.connections_opened, 1u);
  EXPECT_LE(stats.connections_opened, 8u);
}

TEST_F(HttpClientTest, MultipleEventThreads) {
  CurlHttpOptions options = Options();
  options.event_threads = 3;
  auto client = NewCurlHttpClient(options);
  constexpr int kRequests = 24;
  Countdown countdown(kRequests);
  std::atomic<int> ok{0};
  for (int i = 0; i < kRequests; ++i) {
    HttpRequest request;
    request.url = Url("/bytes?n=1000");
    client->Send(std::move(request), [&](HttpResponse r) {
      if (r.transport.ok() && r.status == 200 && r.body == Pattern(1000)) ++ok;
      countdown.Done();
    });
  }
  ASSERT_TRUE(countdown.Wait());
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_LE(client->Stats().max_in_flight, 8u);
}

TEST_F(HttpClientTest, StalledBodyTimesOut) {
  CurlHttpOptions options = Options();
  options.low_speed_window = std::chrono::seconds(1);
  // libcurl averages the speed over its last ~5 one-second samples, so with a 1 byte/s limit
  // the 10 bytes sent before the stall would hide it for ~5 s; 100 bytes/s sees it at once.
  options.low_speed_bytes = 100;
  auto client = NewCurlHttpClient(options);
  HttpRequest request;
  request.url = Url("/slow?stall=8");
  auto start = steady_clock::now();
  HttpResponse r = SendAndWait(*client, std::move(request));
  EXPECT_EQ(r.transport.code(), Code::kTimeout) << r.transport.ToString();
  EXPECT_TRUE(r.transport.retryable());
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(HttpClientTest, ConnectionRefusedIsRetryableNetworkError) {
  // A bound socket that does not listen: connecting to it is refused, and no other
  // process can take the port while we hold it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto client = NewCurlHttpClient(Options());
  HttpRequest request;
  request.url =
      "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/key?X-Amz-Signature=secret";
  HttpResponse r = SendAndWait(*client, std::move(request));
  close(fd);
  EXPECT_EQ(r.transport.code(), Code::kNetwork) << r.transport.ToString();
  EXPECT_TRUE(r.transport.retryable());
  EXPECT_NE(r.transport.message().find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(r.transport.message().find("secret"), std::string::npos);
}

TEST_F(HttpClientTest, ClosedWithoutResponseIsRetryableNetworkError) {
  auto client = NewCurlHttpClient(Options());
  HttpRequest request;
  request.url = Url("/close");
  HttpResponse r = SendAndWait(*client, std::move(request));
  EXPECT_EQ(r.transport.code(), Code::kNetwork) << r.transport.ToString();
  EXPECT_TRUE(r.transport.retryable());
}

TEST_F(HttpClientTest, ScheduleRunsAfterDelayInDeadlineOrder) {
  auto client = NewCurlHttpClient(Options());
  std::mutex mu;
  std::vector<int> order;
  std::vector<bool> late_enough;
  Countdown countdown(3);
  auto start = steady_clock::now();
  for (int delay_ms : {150, 50, 100}) {
    client->Schedule(milliseconds(delay_ms), [&, delay_ms] {
      bool ok = steady_clock::now() - start >= milliseconds(delay_ms);
      {
        std::lock_guard lock(mu);
        order.push_back(delay_ms);
        late_enough.push_back(ok);
      }
      countdown.Done();
    });
  }
  ASSERT_TRUE(countdown.Wait());
  std::lock_guard lock(mu);
  EXPECT_EQ(order, (std::vector<int>{50, 100, 150}));
  EXPECT_EQ(late_enough, (std::vector<bool>{true, true, true}));
}

TEST_F(HttpClientTest, CallbacksMaySendAndScheduleReentrantly) {
  auto client = NewCurlHttpClient(Options());
  auto promise = std::make_shared<std::promise<HttpResponse>>();
  auto future = promise->get_future();
  HttpClient* c = client.get();
  HttpRequest first;
  first.url = Url("/bytes?n=10");
  client->Send(first, [c, promise, url = Url("/echo")](HttpResponse) {
    c->Schedule(milliseconds(10), [c, promise, url] {
      HttpRequest second;
      second.url = url;
      c->Send(second, [promise](HttpResponse r) { promise->set_value(std::move(r)); });
    });
  });
  ASSERT_EQ(future.wait_for(kWaitLimit), std::future_status::ready);
  HttpResponse r = future.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("method=GET"), std::string::npos);
}

TEST_F(HttpClientTest, DestroyCancelsActiveAndQueuedRequests) {
  CurlHttpOptions options = Options();
  options.max_connections = 2;  // 2 active, the rest queued
  options.low_speed_window = std::chrono::seconds(30);
  auto client = NewCurlHttpClient(options);
  constexpr int kRequests = 6;
  std::vector<std::atomic<int>> calls(kRequests);
  std::vector<Code> codes(kRequests, Code::kOk);
  for (int i = 0; i < kRequests; ++i) {
    HttpRequest request;
    request.url = Url("/slow?stall=10");
    client->Send(std::move(request), [&, i](HttpResponse r) {
      codes[i] = r.transport.code();
      ++calls[i];
    });
  }
  std::this_thread::sleep_for(milliseconds(300));  // let two of them start
  auto start = steady_clock::now();
  client.reset();
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(3));
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(calls[i].load(), 1) << i;
    EXPECT_EQ(codes[i], Code::kCancelled) << i;
  }
}

TEST_F(HttpClientTest, CaBundleAppliesOnlyToHttps) {
  CurlHttpOptions options = Options();
  options.ca_bundle = "/nonexistent/ca-bundle.pem";
  auto client = NewCurlHttpClient(options);
  HttpRequest https;
  https.url = "https://127.0.0.1:" + std::to_string(port_) + "/echo";
  HttpResponse r = SendAndWait(*client, https);
  EXPECT_FALSE(r.transport.ok());
  EXPECT_EQ(r.status, 0);

  HttpRequest http;
  http.url = Url("/echo");
  r = SendAndWait(*client, http);
  ASSERT_TRUE(r.transport.ok()) << r.transport.ToString();
  EXPECT_EQ(r.status, 200);
}

// --user-agent-prefix and --debug-crt: the User-Agent reaches the server, and the debug
// lines show the request's headers with the credentials left out.
TEST_F(HttpClientTest, UserAgentAndRedactedDebugLog) {
  CurlHttpOptions options = Options();
  options.user_agent = "team-a s3mount/1.0";
  auto lines = std::make_shared<std::vector<std::string>>();
  auto mu = std::make_shared<std::mutex>();
  options.debug_log = [lines, mu](const std::string& line) {
    std::lock_guard l(*mu);
    lines->push_back(line);
  };
  auto client = NewCurlHttpClient(options);
  HttpRequest req;
  req.url = Url("/echo");
  req.headers = {{"authorization", "AWS4-HMAC-SHA256 Credential=AKIDSECRET/x, Signature=abc"},
                 {"x-amz-security-token", "TOKENSECRET"},
                 {"x-amz-date", "20260101T000000Z"}};
  HttpResponse r = SendAndWait(*client, req);
  ASSERT_EQ(r.status, 200) << r.transport.ToString();
  EXPECT_NE(r.body.find("h:user-agent=team-a s3mount/1.0"), std::string::npos) << r.body;
  client.reset();  // every callback has run
  std::string all;
  for (const std::string& l : *lines) all += l + "\n";
  EXPECT_NE(all.find("curl > GET /echo HTTP/1.1"), std::string::npos) << all;
  EXPECT_NE(all.find("curl > authorization: [redacted]"), std::string::npos) << all;
  EXPECT_NE(all.find("curl > x-amz-security-token: [redacted]"), std::string::npos) << all;
  EXPECT_NE(all.find("curl > x-amz-date: 20260101T000000Z"), std::string::npos) << all;
  EXPECT_NE(all.find("curl < HTTP/1."), std::string::npos) << all;
  EXPECT_EQ(all.find("SECRET"), std::string::npos) << all;
}

// --bind: requests leave by the named interface; one that does not exist fails them.
TEST_F(HttpClientTest, BindChoosesTheInterface) {
  if (geteuid() != 0) GTEST_SKIP() << "binding to a device needs root (or Linux 5.7+ for lo)";
  CurlHttpOptions options = Options();
  options.interfaces = {"lo"};
  auto good = NewCurlHttpClient(options);
  HttpRequest req;
  req.url = Url("/echo");
  EXPECT_EQ(SendAndWait(*good, req).status, 200);
  options.interfaces = {"lo", "s3mnosuch0"};
  auto bad = NewCurlHttpClient(options);
  int ok = 0, failed = 0;
  for (int i = 0; i < 4; i++) {
    HttpResponse r = SendAndWait(*bad, req);
    (r.transport.ok() && r.status == 200 ? ok : failed)++;
  }
  // Taken in turn: half the requests go by the missing interface.
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(failed, 2);
}

}  // namespace
}  // namespace s3m
