// The transport-independent parts of http_client.h.
#include "http/http_client.h"

namespace s3m {

std::string HttpResponse::Header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::string();
}

}  // namespace s3m
