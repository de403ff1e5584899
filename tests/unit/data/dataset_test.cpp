// dataset_test.cpp: load_dataset on generated files (IDX raw/gz, CIFAR-10 batches): shapes, constants, class
// names, the not-found message, count checks; make_random_dataset (seeded, learnable); subset views.
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "sprint/core/error.h"
#include "sprint/data/dataset.h"
#include "support/test_util.h"

namespace sprint::data {
namespace {
namespace fs = std::filesystem;

uint8_t pixel_of(uint32_t i, uint32_t p) {
  return static_cast<uint8_t>(i + p);
}

std::vector<uint8_t> labels_mod10(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * 7) % 10);
  return v;
}

template <class E, class F>
std::string expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing \"" << *parts.begin() << "\"";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(what.find(p), std::string::npos) << "missing \"" << p << "\" in: " << what;
    return what;
  }
  return {};
}

TEST(LoadDataset, MissingDataSetGivesOneClearMessage) {
  testing::TempDir dir;
  const fs::path root = dir.path();
  expect_error<IoError>([&] { load_dataset("fashion-mnist", Split::kTrain, root); },
                        {"fashion-mnist not found in " + (root / "fashion-mnist").string() +
                         " (missing train-images-idx3-ubyte.gz): run `sprint data fetch fashion-mnist`"});
  expect_error<IoError>([&] { load_dataset("mnist", Split::kTest, root); },
                        {"mnist not found in " + (root / "mnist").string() +
                         " (missing t10k-images-idx3-ubyte): run `sprint data fetch mnist`"});
  expect_error<IoError>([&] { load_dataset("cifar10", Split::kTrain, root); },
                        {"cifar10 not found in " + (root / "cifar10").string() +
                         " (missing data_batch_1.bin): run `sprint data fetch cifar10`"});
  expect_error<InvalidArgument>([&] { load_dataset("imagenet", Split::kTrain, root); },
                                {"unknown data set \"imagenet\"", "mnist, fashion-mnist, cifar10"});
}

TEST(LoadDataset, FashionMnistTestSplitFromRawAndGzipFiles) {
  testing::TempDir dir;
  const fs::path d = dir.path() / "fashion-mnist";
  fs::create_directories(d);
  testing::write_file(d / "t10k-images-idx3-ubyte", testing::idx_images(10000, 28, 28, pixel_of));  // raw
  testing::write_file(d / "t10k-labels-idx1-ubyte.gz",
                      testing::gzip(testing::idx_labels(labels_mod10(10000))));
  const Dataset ds = load_dataset("fashion-mnist", Split::kTest, dir.path());
  EXPECT_EQ(ds.name, "fashion-mnist");
  EXPECT_EQ(ds.size(), 10000);
  EXPECT_EQ(ds.inputs.shape(), (Shape{10000, 1, 28, 28}));
  EXPECT_EQ(ds.sample_shape(), (Shape{1, 28, 28}));
  EXPECT_EQ(ds.labels.data_as<int32_t>()[3], 1);
  EXPECT_EQ(ds.inputs.data_as<uint8_t>()[784 * 2 + 5], 7);
  EXPECT_EQ(ds.num_classes, 10);
  EXPECT_EQ(ds.mean, (std::vector<float>{0.2860f}));
  EXPECT_EQ(ds.std, (std::vector<float>{0.3530f}));
  ASSERT_EQ(ds.class_names.size(), 10u);
  EXPECT_EQ(ds.class_names[0], "T-shirt/top");
  EXPECT_EQ(ds.class_names[9], "Ankle boot");
  // The train split is still missing.
  expect_error<IoError>([&] { load_dataset("fashion-mnist", Split::kTrain, dir.path()); },
                        {"missing train-images-idx3-ubyte.gz"});
}

TEST(LoadDataset, ImageAndLabelCountsMustAgreeAndBeOfficial) {
  testing::TempDir dir;
  const fs::path d = dir.path() / "mnist";
  fs::create_directories(d);
  testing::write_file(d / "t10k-images-idx3-ubyte", testing::idx_images(100, 28, 28, pixel_of));
  testing::write_file(d / "t10k-labels-idx1-ubyte", testing::idx_labels(labels_mod10(99)));
  expect_error<FormatError>(
      [&] { load_dataset("mnist", Split::kTest, dir.path()); },
      {"mnist test:", "t10k-images-idx3-ubyte has 100 images but", "t10k-labels-idx1-ubyte has 99 labels"});
  testing::write_file(d / "t10k-labels-idx1-ubyte", testing::idx_labels(labels_mod10(100)));
  expect_error<FormatError>([&] { load_dataset("mnist", Split::kTest, dir.path()); },
                            {"has 100 images, expected 10000"});
  std::vector<uint8_t> bad = labels_mod10(100);
  bad[42] = 10;
  testing::write_file(d / "t10k-labels-idx1-ubyte", testing::idx_labels(bad));
  expect_error<FormatError>([&] { load_dataset("mnist", Split::kTest, dir.path()); },
                            {"t10k-labels-idx1-ubyte: label 10 of item 42 is out of range"});
}

TEST(LoadDataset, MnistTestSplitWithWrongImageSize) {
  testing::TempDir dir;
  const fs::path d = dir.path() / "mnist";
  fs::create_directories(d);
  testing::write_file(d / "t10k-images-idx3-ubyte", testing::idx_images(10000, 20, 20, pixel_of));
  testing::write_file(d / "t10k-labels-idx1-ubyte", testing::idx_labels(labels_mod10(10000)));
  expect_error<FormatError>([&] { load_dataset("mnist", Split::kTest, dir.path()); },
                            {"holds 20x20 images, expected 28x28"});
}

uint8_t cifar_pixel(uint32_t i, uint32_t k) {
  return static_cast<uint8_t>(i ^ k);
}

TEST(LoadDataset, Cifar10TestSplit) {
  testing::TempDir dir;
  const fs::path d = dir.path() / "cifar10";
  fs::create_directories(d);
  testing::write_file(d / "test_batch.bin", testing::cifar_records(labels_mod10(10000), cifar_pixel));
  expect_error<IoError>([&] { load_dataset("cifar10", Split::kTest, dir.path()); },
                        {"missing batches.meta.txt"});
  testing::write_file(d / "batches.meta.txt",
                      "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
  const Dataset ds = load_dataset("cifar10", Split::kTest, dir.path());
  EXPECT_EQ(ds.inputs.shape(), (Shape{10000, 3, 32, 32}));
  EXPECT_EQ(ds.sample_shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(ds.labels.data_as<int32_t>()[9999], static_cast<int32_t>((9999 * 7) % 10));
  EXPECT_EQ(ds.inputs.data_as<uint8_t>()[3072 * 17 + 1000], cifar_pixel(17, 1000));
  EXPECT_EQ(ds.mean, (std::vector<float>{0.4914f, 0.4822f, 0.4465f}));
  EXPECT_EQ(ds.std, (std::vector<float>{0.2470f, 0.2435f, 0.2616f}));
  EXPECT_EQ(ds.class_names[1], "automobile");
  // A short batch is rejected with the official size in the message.
  testing::write_file(d / "test_batch.bin", testing::cifar_records(labels_mod10(10), cifar_pixel));
  expect_error<FormatError>([&] { load_dataset("cifar10", Split::kTest, dir.path()); },
                            {"test_batch.bin: the file has 10 records", "has 10000"});
}

TEST(RandomDataset, SeededShapesAndRanges) {
  const Dataset a = make_random_dataset(500, 12, 4, 7);
  const Dataset b = make_random_dataset(500, 12, 4, 7);
  const Dataset c = make_random_dataset(500, 12, 4, 8);
  EXPECT_EQ(a.name, "random");
  EXPECT_EQ(a.inputs.shape(), (Shape{500, 12}));
  EXPECT_EQ(a.inputs.dtype(), DType::kF32);
  EXPECT_EQ(a.sample_shape(), (Shape{12}));
  EXPECT_EQ(a.num_classes, 4);
  EXPECT_TRUE(a.mean.empty() && a.std.empty());
  EXPECT_EQ(a.class_names.size(), 4u);
  EXPECT_EQ(a.inputs.to_vector<float>(), b.inputs.to_vector<float>());
  EXPECT_EQ(a.labels.to_vector<int32_t>(), b.labels.to_vector<int32_t>());
  EXPECT_NE(a.inputs.to_vector<float>(), c.inputs.to_vector<float>());
  std::vector<int> counts(4, 0);
  for (int32_t y : a.labels.to_vector<int32_t>()) {
    ASSERT_TRUE(y >= 0 && y < 4);
    ++counts[static_cast<size_t>(y)];
  }
  for (int k = 0; k < 4; ++k) EXPECT_GT(counts[static_cast<size_t>(k)], 20) << "class " << k;
  // Features look like N(0, 1).
  double sum = 0, sq = 0;
  for (float v : a.inputs.to_vector<float>()) {
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  const double n = 500.0 * 12.0;
  EXPECT_NEAR(sum / n, 0.0, 0.05);
  EXPECT_NEAR(sq / n, 1.0, 0.08);
  EXPECT_THROW(make_random_dataset(0, 3, 2, 0), InvalidArgument);
  EXPECT_THROW(make_random_dataset(10, 3, 1, 0), InvalidArgument);
}

TEST(RandomDataset, IsLearnableByALinearRule) {
  // The labels come from a linear teacher, so class-mean templates fitted on 3,000 samples should classify
  // held-out samples far above chance (25%).
  const int64_t n = 4000, f = 20, k = 4;
  const Dataset ds = make_random_dataset(n, f, k, 123);
  const float* x = ds.inputs.data_as<float>();
  const int32_t* y = ds.labels.data_as<int32_t>();
  std::vector<double> means(static_cast<size_t>(k * f), 0.0);
  for (int64_t i = 0; i < 3000; ++i)
    for (int64_t j = 0; j < f; ++j) means[static_cast<size_t>(y[i] * f + j)] += x[i * f + j];
  int correct = 0;
  for (int64_t i = 3000; i < n; ++i) {
    int64_t best = 0;
    double best_score = -1e300;
    for (int64_t c = 0; c < k; ++c) {
      double s = 0;
      for (int64_t j = 0; j < f; ++j) s += means[static_cast<size_t>(c * f + j)] * x[i * f + j];
      if (s > best_score) {
        best_score = s;
        best = c;
      }
    }
    correct += best == y[i];
  }
  EXPECT_GT(correct / 1000.0, 0.7) << "held-out accuracy of a linear rule";
}

TEST(Subset, SharesTensorsAndChecksRange) {
  const Dataset all = make_random_dataset(100, 5, 3, 1);
  const Dataset part = subset(all, 10, 30);
  EXPECT_EQ(part.size(), 30);
  EXPECT_EQ(part.inputs.shape(), (Shape{30, 5}));
  EXPECT_EQ(part.inputs.storage(), all.inputs.storage()) << "a view, not a copy";
  EXPECT_EQ(part.inputs.data_as<float>(), all.inputs.data_as<float>() + 50);
  EXPECT_EQ(part.labels.data_as<int32_t>()[0], all.labels.data_as<int32_t>()[10]);
  EXPECT_EQ(part.num_classes, 3);
  EXPECT_EQ(subset(all, 100, 0).size(), 0);
  expect_error<InvalidArgument>([&] { subset(all, 90, 11); },
                                {"subset [90, 101) is out of range", "100 samples"});
  EXPECT_THROW(subset(all, -1, 5), InvalidArgument);
}

}  // namespace
}  // namespace sprint::data
