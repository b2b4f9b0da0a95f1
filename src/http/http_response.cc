// HttpResponse helpers shared by every transport. Pure functions of the value; any thread.
#include "http/http_client.h"

namespace s3m {

std::string HttpResponse::Header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace s3m
