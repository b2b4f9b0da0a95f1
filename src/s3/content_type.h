// The Content-Type of a new object from its file name's extension (--infer-content-type),
// from a built-in table of common types: the same answer on every machine, whatever
// /etc/mime.types holds. Pure; any thread.
#pragma once

#include <string>

namespace s3m {

// "text/html" for "dir/index.HTML"; "" when the extension is unknown or missing (S3 then
// keeps its default, binary/octet-stream).
std::string ContentTypeForKey(const std::string& key);

}  // namespace s3m
