// sparse_checkpoint.h: small checkpoints of sparse training (FISH): the values of a mask's entries only, stored
// on top of the weights the run started from.
//
// File (safetensors, metadata "format" "sprint-sparse"): per trainable parameter with some entries kept,
// "<name>.idx" (I32, the kept entries' flat positions in the logical layout, ascending) and "<name>.val" (the
// values there, in the parameter's dtype); parameters kept whole (the classifier), untrained ones, and every
// buffer and counter (BatchNorm's running statistics and num_batches_tracked) whole under their own names. Metadata: "model", "step", "sprint_version", "base" (the base
// weights' path, relative to the sparse file's directory when it was given so), "base_hash" (content_hash of the
// base), "mask_hash", "keep_ratio", "kept", "dense_values".
//
// Outside the mask the model must equal the base bit for bit (true freezing, --mask-update freeze): the saver
// checks it, so that loading the file on top of its base reproduces the trained model exactly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "sprint/data/safetensors.h"
#include "sprint/nn/module.h"
#include "sprint/train/parameter_mask.h"

namespace sprint::train {

/// 16 hex digits over the names, dtypes, shapes and bytes of every tensor of `file` (metadata excluded).
std::string content_hash(const data::SafetensorsFile& file);

/// What save_sparse_weights wrote.
struct SparseSaveResult {
  int64_t values = 0;       ///< parameter values stored
  int64_t dense_values = 0; ///< parameter values of the full model
  uint64_t bytes = 0;       ///< the sparse file's size
  uint64_t base_bytes = 0;  ///< the base (full) file's size
};

/// Writes `net`'s masked entries (and its buffers) to `path` atomically, against the base weights file `base`.
/// InvalidArgument when the model differs from the base outside the mask (naming the first such parameter and
/// how many entries differ) or the mask does not fit the model; IoError / FormatError for the base file.
SparseSaveResult save_sparse_weights(const std::filesystem::path& path, const Stream& stream, nn::Module& net,
                                     const std::string& model, int64_t step, const ParameterMask& mask,
                                     const std::filesystem::path& base);

/// True for a file save_sparse_weights wrote.
bool is_sparse_weights(const data::SafetensorsFile& file);

/// The full weights a sparse file describes: its base (read from the path in its metadata, or `base` when given),
/// with the stored entries and buffers put in. FormatError when the base's content hash differs from the one
/// recorded, or an index is out of range or not ascending.
data::SafetensorsFile expand_sparse_weights(const data::SafetensorsFile& sparse,
                                            const std::optional<std::filesystem::path>& base = std::nullopt);
/// The same on a base file already read (its path only names it in messages).
data::SafetensorsFile expand_sparse_weights(const data::SafetensorsFile& sparse, const data::SafetensorsFile& base);

/// A weights argument (a .safetensors file, a checkpoint directory, or a sparse file on its base) as full weights.
data::SafetensorsFile read_weights(const std::filesystem::path& path);

}  // namespace sprint::train
