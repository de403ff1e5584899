// parameter_mask.h: sparse-training masks (FISH): which entries of each parameter are trained, merged between
// workers and stored in small checkpoints.
//
// A ParameterMask holds, per trainable parameter (named by its PyTorch state_dict path, in the model's order), one
// bit per entry in the logical layout (KCRS, row-major). Masks are made by a global top-k over scores (the empirical
// Fisher, train/fisher.h, or uniform random scores), with the classifier always kept whole and counted in the
// budget: k_total = floor(keep x total parameters) entries are kept, the classifier's all of them and the top
// k_total - classifier entries of the rest (ties broken by position, first wins).
//
// Mask file (safetensors): per parameter a U8 tensor named as the parameter, shape (ceil(n / 8)), the n bits in
// logical order, least significant bit first, trailing bits 0. Metadata: "format" "sprint-mask", "version" "1",
// "shapes" (JSON object name -> dims), "method" (fisher | random | dense), "keep_ratio", "kept", "total",
// "classifier" (the path prefix kept whole), "samples" (Fisher samples, 0 otherwise), "hash" (hash()), "model".
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "sprint/core/rng.h"
#include "sprint/core/tensor.h"
#include "sprint/data/safetensors.h"
#include "sprint/nn/module.h"
#include "sprint/runtime/stream.h"

namespace sprint::train {

struct ParameterMask {
  struct Entry {
    std::string name;
    Shape shape;
    std::vector<uint8_t> keep;  ///< 0/1 per entry, logical order; size shape.product()
  };
  std::vector<Entry> entries;
  std::string method;      ///< fisher | random | dense
  double keep_ratio = 1.0; ///< as requested
  std::string classifier;  ///< path prefix of the parameters kept whole ("" when none)
  int64_t samples = 0;     ///< Fisher samples behind the scores (0: not a Fisher mask)
  std::string model;

  int64_t kept() const;
  int64_t total() const;
  /// Entries of the parameters under `classifier` (kept whole); 0 without a classifier.
  int64_t classifier_size() const;
  /// The entry called `name`, or null.
  const Entry* find(const std::string& name) const;
  /// 16 hex digits: FNV-1a over names, shapes and bits, so equal masks hash equal whatever made them.
  std::string hash() const;
};

/// Scores of one parameter (host tensor, logical layout, any floating dtype), named by its path.
struct NamedScores {
  std::string name;
  Tensor scores;
};

/// The path prefix of the model's classifier: its last Linear layer ("fc", "8", "head.2"); "" when it has none.
std::string classifier_prefix(nn::Module& net);

/// The global top-k mask over `scores` at `keep` (0 < keep <= 1) as the file comment says; parameters whose name
/// starts with `classifier` + "." are kept whole. InvalidArgument for a bad ratio or non-finite scores.
ParameterMask top_k_mask(const std::vector<NamedScores>& scores, double keep, const std::string& classifier);

/// Uniform random scores for every trainable parameter of `net` (one draw of `rng`), then top_k_mask: the random
/// baseline, classifier kept.
ParameterMask random_mask(nn::Module& net, double keep, const std::string& classifier, Generator& rng);

/// Every entry kept (the dense baseline).
ParameterMask dense_mask(nn::Module& net);

/// Writes the mask file (see the file comment) atomically.
void write_mask(const std::filesystem::path& path, const ParameterMask& mask);

/// Reads and validates a mask file: FormatError naming the file for anything not as the file comment says (a
/// wrong format tag, a missing or disagreeing shape, a tensor of the wrong size, set trailing bits, a count or hash
/// that disagrees with the bits).
ParameterMask read_mask(const std::filesystem::path& path);
/// read_mask's checks on a file already read.
ParameterMask parse_mask(const data::SafetensorsFile& file);

/// The mask as Optimizer::set_update_masks takes it: an f32 0/1 host tensor (logical layout) per parameter that
/// has entries left out; parameters kept whole are left out of the map. InvalidArgument naming the parameters when
/// the mask does not fit the model (missing, unknown or differently shaped parameters).
std::unordered_map<const nn::Parameter*, Tensor> update_masks(nn::Module& net, const ParameterMask& mask);
/// InvalidArgument naming the parameters unless the mask has exactly the model's trainable parameters, each of its
/// shape (the check update_masks makes, without building the masks).
void check_mask_fits(nn::Module& net, const ParameterMask& mask);

}  // namespace sprint::train
