#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "http/http_client.h"
#include "metrics/log_exporter.h"
#include "metrics/prometheus_exporter.h"
#include "metrics/text_format.h"

namespace s3m::metrics {
namespace {

HttpResponse Get(uint16_t port, const std::string& path) {
  SimpleHttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + path;
  return FetchBlocking(req);
}

TEST(PrometheusExporter, ServesTheRegistryAtMetrics) {
  Registry r;
  Counter* c = r.AddCounter("s3mount_test_total", "T", {{"op", "x"}});
  auto e = PrometheusExporter::Start(&r, "127.0.0.1", 0, "--prometheus-port");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  uint16_t port = (*e)->port();
  ASSERT_NE(port, 0);
  c->Add(5);
  HttpResponse resp = Get(port, "/metrics");
  ASSERT_TRUE(resp.transport.ok()) << resp.transport.ToString();
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.Header("content-type"), kTextContentType);
  EXPECT_EQ(resp.body, FormatText(r.Collect()));
  EXPECT_NE(resp.body.find("s3mount_test_total{op=\"x\"} 5\n"), std::string::npos);
  c->Add();  // every scrape is a new snapshot
  EXPECT_NE(Get(port, "/metrics").body.find("s3mount_test_total{op=\"x\"} 6\n"), std::string::npos);
  EXPECT_EQ(Get(port, "/").status, 404);
  SimpleHttpRequest post;
  post.method = "POST";
  post.url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  post.body = "x";
  EXPECT_EQ(FetchBlocking(post).status, 405);
}

TEST(PrometheusExporter, PortInUseIsAOneLineErrorNamingTheOption) {
  Registry r;
  auto first = PrometheusExporter::Start(&r, "127.0.0.1", 0, "--prometheus-port");
  ASSERT_TRUE(first.ok());
  uint16_t port = (*first)->port();
  auto second = PrometheusExporter::Start(&r, "127.0.0.1", port, "--prometheus-port");
  ASSERT_FALSE(second.ok());
  std::string msg = second.status().message();
  EXPECT_EQ(msg, "--prometheus-port " + std::to_string(port) + ": cannot listen on 127.0.0.1:" +
                     std::to_string(port) + ": Address already in use");
  // The first one still answers.
  EXPECT_EQ(Get(port, "/metrics").status, 200);
}

TEST(PrometheusExporter, BadAddress) {
  Registry r;
  auto e = PrometheusExporter::Start(&r, "localhost.example", 9, "--prometheus-port");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("not an IPv4 or IPv6 address"), std::string::npos);
}

TEST(PrometheusExporter, Ipv6Loopback) {
  int probe = socket(AF_INET6, SOCK_STREAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6";
  close(probe);
  Registry r;
  auto e = PrometheusExporter::Start(&r, "::1", 0, "--prometheus-port");
  if (!e.ok()) GTEST_SKIP() << e.status().ToString();
  SimpleHttpRequest req;
  req.url = "http://[::1]:" + std::to_string((*e)->port()) + "/metrics";
  EXPECT_EQ(FetchBlocking(req).status, 200);
}

TEST(LogMetrics, ChangedLinesOnlyWhatChanged) {
  std::map<std::string, double> before{{"a", 1}, {"b", 2}, {"c", 0}};
  std::map<std::string, double> now{{"a", 1}, {"b", 3}, {"c", 0}, {"d", 0}, {"e", 0.5}};
  EXPECT_EQ(ChangedLines(before, now), (std::vector<std::string>{"b 3", "e 0.5"}));
  EXPECT_TRUE(ChangedLines(now, now).empty());
}

TEST(LogMetrics, LogsPeriodicallyAndAtTheEnd) {
  Registry r;
  Counter* c = r.AddCounter("s3mount_x_total", "X");
  std::mutex mu;
  std::vector<std::string> lines;
  {
    LogExporter e(&r, std::chrono::milliseconds(20), [&](const std::string& l) {
      std::lock_guard g(mu);
      lines.push_back(l);
    });
    c->Add(2);
    for (int i = 0; i < 500; i++) {
      {
        std::lock_guard g(mu);
        if (!lines.empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // unchanged periods: silent
    std::lock_guard g(mu);
    EXPECT_EQ(lines, std::vector<std::string>{"s3mount_x_total 2"});
    c->Add();
  }
  // The destructor's last report has the final change.
  EXPECT_EQ(lines, (std::vector<std::string>{"s3mount_x_total 2", "s3mount_x_total 3"}));
}

}  // namespace
}  // namespace s3m::metrics
