#include "s3/content_type.h"

#include <gtest/gtest.h>

namespace s3m {
namespace {

TEST(ContentTypeTest, ExtensionOfTheLastComponentAnyCase) {
  EXPECT_EQ(ContentTypeForKey("a/b/c.json"), "application/json");
  EXPECT_EQ(ContentTypeForKey("IMG.JPG"), "image/jpeg");
  EXPECT_EQ(ContentTypeForKey("data.tar.gz"), "application/gzip");
  EXPECT_EQ(ContentTypeForKey("x.csv"), "text/csv");
}

TEST(ContentTypeTest, NoTypeWithoutAKnownExtension) {
  EXPECT_EQ(ContentTypeForKey("README"), "");
  EXPECT_EQ(ContentTypeForKey("dir.json/file"), "");  // the directory's dot is not the file's
  EXPECT_EQ(ContentTypeForKey(".bashrc"), "");
  EXPECT_EQ(ContentTypeForKey("trailing."), "");
  EXPECT_EQ(ContentTypeForKey("x.unknownext"), "");
  EXPECT_EQ(ContentTypeForKey(""), "");
}

}  // namespace
}  // namespace s3m
