// sparse_training_test.cpp: FISH's parts on the CPU: the global top-k mask on hand-made scores (classifier kept and
// counted, ties by position), the bit-packed mask file and its checks, the empirical Fisher of a linear softmax
// model against its gradient worked out by hand, masks that do not fit a model, and a masked training run whose
// frozen entries stay bit-identical so that its small checkpoint on the base gives the trained model back.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include <unistd.h>

#include "sprint/core/error.h"
#include "sprint/data/safetensors.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/loss.h"
#include "sprint/ops/conv.h"
#include "sprint/ops/elementwise.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/checkpoint.h"
#include "sprint/train/fisher.h"
#include "sprint/train/parameter_mask.h"
#include "sprint/train/sparse_checkpoint.h"
#include "sprint/train/trainer.h"
#include "support/test_util.h"
#include "train_test_data.h"

namespace sprint::train {
namespace {
namespace fs = std::filesystem;

const Stream& cpu() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

Tensor scores(std::vector<double> v) {
  const auto n = static_cast<int64_t>(v.size());
  return Tensor::from_values(v, {n});
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("sprint_sparse_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(TopKMask, KeepsTheClassifierWholeAndTheLargestScoresWithinTheBudget) {
  // 8 parameters, keep 0.5: k_total = 4, the classifier's 2 count, so 2 more: the scores 9 and 5.
  const std::vector<NamedScores> s{{"a.weight", scores({5, 1, 4, 1, 0, 9})}, {"fc.weight", scores({0, 0})}};
  const ParameterMask m = top_k_mask(s, 0.5, "fc");
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.entries[0].keep, (std::vector<uint8_t>{1, 0, 0, 0, 0, 1}));
  EXPECT_EQ(m.entries[1].keep, (std::vector<uint8_t>{1, 1}));
  EXPECT_EQ(m.kept(), 4);
  EXPECT_EQ(m.total(), 8);
  EXPECT_EQ(m.classifier_size(), 2);
  // keep 0.6 of 8 = floor(4.8) = 4 as well; without a classifier the 4 largest win.
  EXPECT_EQ(top_k_mask(s, 0.6, "").kept(), 4);
  EXPECT_EQ(top_k_mask(s, 0.6, "").entries[0].keep, (std::vector<uint8_t>{1, 1, 1, 0, 0, 1}));  // 9, 5, 4, first 1
  EXPECT_EQ(top_k_mask(s, 0.6, "").entries[1].keep, (std::vector<uint8_t>{0, 0}));
}

TEST(TopKMask, BreaksTiesByPositionAndRejectsBadInput) {
  const ParameterMask m = top_k_mask({{"w", scores({2, 2, 2, 2})}, {"v", scores({2, 2})}}, 0.5, "");
  EXPECT_EQ(m.entries[0].keep, (std::vector<uint8_t>{1, 1, 1, 0}));
  EXPECT_EQ(m.entries[1].keep, (std::vector<uint8_t>{0, 0}));
  EXPECT_THROW(top_k_mask({{"w", scores({1})}}, 0.0, ""), InvalidArgument);
  EXPECT_THROW(top_k_mask({{"w", scores({1})}}, 1.5, ""), InvalidArgument);
  EXPECT_THROW(top_k_mask({{"w", scores({1, NAN})}}, 0.5, ""), InvalidArgument);
}

TEST(MaskFile, RoundTripsTheBitsAndRejectsTamperedFiles) {
  const fs::path dir = temp_dir("file");
  std::vector<double> v;
  for (int i = 0; i < 21; ++i) v.push_back(std::sin(i * 1.7));
  ParameterMask m = top_k_mask({{"conv.weight", Tensor::from_values(v, {3, 7})}, {"fc.bias", scores({1, 2, 3})}},
                               0.3, "fc");
  m.method = "fisher";
  m.samples = 7;
  m.model = "tiny";
  write_mask(dir / "m.safetensors", m);
  const ParameterMask back = read_mask(dir / "m.safetensors");
  ASSERT_EQ(back.entries.size(), 2u);
  EXPECT_EQ(back.entries[0].shape, (Shape{3, 7}));
  EXPECT_EQ(back.entries[0].keep, m.entries[0].keep);
  EXPECT_EQ(back.entries[1].keep, m.entries[1].keep);
  EXPECT_EQ(back.hash(), m.hash());
  EXPECT_EQ(back.samples, 7);
  EXPECT_EQ(back.classifier, "fc");
  EXPECT_EQ(data::read_safetensors(dir / "m.safetensors").find("conv.weight")->size, 3u);  // 21 bits in 3 bytes

  // The same tensors with one more bit set, a bit past the end, or another format tag.
  const data::SafetensorsFile f = data::read_safetensors(dir / "m.safetensors");
  const auto rewrite = [&](int byte, uint8_t bit, const std::string& format) {
    std::vector<data::NamedTensor> t{{"conv.weight", f.tensor("conv.weight")}, {"fc.bias", f.tensor("fc.bias")}};
    t[0].value.data_as<uint8_t>()[byte] |= bit;
    std::map<std::string, std::string> meta = f.metadata();
    meta["format"] = format;
    data::write_safetensors(dir / "bad.safetensors", t, meta);
    return dir / "bad.safetensors";
  };
  int free_bit = 0;
  while (m.entries[0].keep[static_cast<size_t>(free_bit)] != 0) ++free_bit;
  EXPECT_THROW(read_mask(rewrite(free_bit / 8, static_cast<uint8_t>(1u << (free_bit % 8)), "sprint-mask")),
               FormatError);                                    // the counts and hash disagree
  EXPECT_THROW(read_mask(rewrite(2, 0x80, "sprint-mask")), FormatError);  // bit 23 of 21
  EXPECT_THROW(read_mask(rewrite(0, 0, "pt")), FormatError);
  fs::remove_all(dir);
}

// One Linear layer (F -> K) with cross-entropy: per example dW = (p - e_y) x^T and db = p - e_y.
TEST(EmpiricalFisher, SumsSquaredPerExampleGradients) {
  const data::Dataset set = data::make_random_dataset(12, 4, 3, 5);
  Generator rng(2);
  nn::Model model;
  model.net = std::make_shared<nn::Sequential>();
  auto& fc = model.net->emplace<nn::Linear>(nn::LinearOptions(4, 3), rng);
  model.loss = std::make_unique<nn::CrossEntropyLoss>();
  const std::vector<double> w = fc.weight()->value().to_vector<double>();
  const std::vector<double> b = fc.bias()->value().to_vector<double>();
  std::vector<double> dw2(12, 0.0), db2(3, 0.0);
  const std::vector<double> x = set.inputs.to_vector<double>();
  for (int64_t n = 0; n < set.size(); ++n) {
    const int y = set.labels.data_as<int32_t>()[n];
    double z[3], zmax = -1e30, total = 0.0;
    for (int k = 0; k < 3; ++k) {
      z[k] = b[k];
      for (int f = 0; f < 4; ++f) z[k] += w[k * 4 + f] * x[n * 4 + f];
      zmax = std::max(zmax, z[k]);
    }
    for (double& v : z) total += (v = std::exp(v - zmax));
    for (int k = 0; k < 3; ++k) {
      const double g = z[k] / total - (k == y ? 1.0 : 0.0);
      db2[k] += g * g;
      for (int f = 0; f < 4; ++f) dw2[k * 4 + f] += g * x[n * 4 + f] * g * x[n * 4 + f];
    }
  }
  FisherOptions options;
  options.samples = 100;
  const FisherScores s = empirical_fisher(cpu(), model, set, options);
  EXPECT_EQ(s.samples, 12);  // at most the set
  ASSERT_EQ(s.scores.size(), 2u);
  EXPECT_EQ(s.scores[0].name, "0.weight");
  const std::vector<double> got_w = s.scores[0].scores.to_vector<double>(), got_b = s.scores[1].scores.to_vector<double>();
  for (size_t i = 0; i < dw2.size(); ++i) EXPECT_NEAR(got_w[i], dw2[i], 1e-4 * (1.0 + dw2[i])) << i;
  for (size_t i = 0; i < db2.size(); ++i) EXPECT_NEAR(got_b[i], db2[i], 1e-4 * (1.0 + db2[i])) << i;
  EXPECT_FALSE(fc.weight()->has_grad());
  EXPECT_TRUE(model.net->training());
  EXPECT_EQ(classifier_prefix(*model.net), "0");
}

nn::Model conv_model() { return test_data::tiny_conv_model(); }

TEST(UpdateMasks, RejectAMaskThatDoesNotFitTheModel) {
  nn::Model a = conv_model();
  ParameterMask m = dense_mask(*a.net);
  EXPECT_TRUE(update_masks(*a.net, m).empty());  // everything kept: nothing to mask
  EXPECT_NO_THROW(check_mask_fits(*a.net, m));
  m.entries[0].shape = {8, 2, 3, 4};
  EXPECT_THROW(update_masks(*a.net, m), InvalidArgument);
  EXPECT_THROW(check_mask_fits(*a.net, m), InvalidArgument);
  m = dense_mask(*a.net);
  m.entries.pop_back();
  EXPECT_THROW(update_masks(*a.net, m), InvalidArgument);
  m = dense_mask(*a.net);
  m.entries.push_back({"extra.weight", {1}, {1}});
  EXPECT_THROW(update_masks(*a.net, m), InvalidArgument);
  EXPECT_THROW(check_mask_fits(*a.net, m), InvalidArgument);
}

// SGD with Nesterov momentum and weight decay on a channel-blocked conv, BatchNorm and a Linear, 30% random mask:
// the frozen entries keep the base's bits, the small checkpoint holds the masked values and BatchNorm's statistics,
// and on its base it gives back the trained model exactly; under grad-only masking the saver refuses.
TEST(SparseTraining, FrozenEntriesStayBitIdenticalAndTheSmallCheckpointGivesTheModelBack) {
  const fs::path dir = temp_dir("run");
  const data::Dataset train_set = test_data::random_images(48, 6, 6, 1), test_set = test_data::random_images(16, 6, 6, 2);
  for (const UpdateMaskMode mode : {UpdateMaskMode::kFreeze, UpdateMaskMode::kGradientOnly}) {
    nn::Model model = conv_model();
    model.net->to_device(cpu());
    save_weights(dir / "base.safetensors", cpu(), *model.net, "tiny", 0);
    Generator rng(4);
    EXPECT_EQ(classifier_prefix(*model.net), "4");
    // No classifier kept whole: the Linear alone is most of this model.
    const ParameterMask mask = random_mask(*model.net, 0.3, "", rng);
    optim::SGD sgd(optim::single_group(*model.net),
                   optim::SGDOptions(0.05).with_momentum(0.9).with_weight_decay(5e-3).with_nesterov(true));
    sgd.set_update_masks(cpu(), update_masks(*model.net, mask), mode);
    TrainerOptions o;
    o.batch_size = 8;
    o.eval_batch_size = 16;
    o.num_workers = 0;
    o.activation_format = ops::preferred_activation_format(cpu(), DType::kF32);
    Trainer trainer(model, sgd, train_set, test_set, o);
    trainer.run_epoch(1, 2);
    trainer.run_epoch(2, 2);
    if (mode == UpdateMaskMode::kGradientOnly) {
      EXPECT_THROW(save_sparse_weights(dir / "small.safetensors", cpu(), *model.net, "tiny", 12, mask,
                                       dir / "base.safetensors"),
                   InvalidArgument);
      continue;
    }
    const SparseSaveResult r =
        save_sparse_weights(dir / "small.safetensors", cpu(), *model.net, "tiny", 12, mask, dir / "base.safetensors");
    EXPECT_EQ(r.values, mask.kept());
    EXPECT_EQ(r.dense_values, mask.total());
    EXPECT_LT(r.bytes, r.base_bytes);
    // The trained values and the ones the small checkpoint gives back, byte for byte.
    const data::SafetensorsFile full = read_weights(dir / "small.safetensors");
    const data::SafetensorsFile base = data::read_safetensors(dir / "base.safetensors");
    int64_t changed = 0;
    for (const data::NamedTensor& t : model_state_dict(cpu(), *model.net)) {
      const data::SafetensorsFile::Entry* e = full.find(t.name);
      ASSERT_NE(e, nullptr) << t.name;
      ASSERT_EQ(e->size, static_cast<uint64_t>(t.value.numel()) * dtype_size(t.value.dtype())) << t.name;
      EXPECT_EQ(std::memcmp(full.bytes(*e).data(), t.value.data(), e->size), 0) << t.name;
      if (const ParameterMask::Entry* m = mask.find(t.name)) {
        const auto* now = static_cast<const float*>(t.value.data());
        const auto* was = reinterpret_cast<const float*>(base.bytes(*base.find(t.name)).data());
        for (size_t i = 0; i < m->keep.size(); ++i) {
          if (m->keep[i] == 0) {
            EXPECT_EQ(std::memcmp(&now[i], &was[i], 4), 0) << t.name << " " << i;
          }
          changed += m->keep[i] != 0 && now[i] != was[i];
        }
      }
    }
    EXPECT_GT(changed, mask.kept() / 2);  // the masked entries did train
    // A different base is refused.
    nn::Model other = conv_model();
    other.net->to_device(cpu());
    for (const nn::ParameterPtr& p : other.net->parameters())
      p->load_value(cpu(), ops::full(cpu(), p->value().shape(), DType::kF32, 0.5));
    save_weights(dir / "other.safetensors", cpu(), *other.net, "tiny", 0);
    EXPECT_THROW(expand_sparse_weights(data::read_safetensors(dir / "small.safetensors"), dir / "other.safetensors"),
                 FormatError);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sprint::train
