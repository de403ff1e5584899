// buffer_key.h: BufferKey, which set of a layer's per-run buffers a forward/backward pair uses (one per
// training micro-batch in flight, one for evaluation), and PerBuffer, the one container every layer keeps
// them in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sprint/core/error.h"

namespace sprint::nn {

/// Names one set of a layer's per-run buffers: the activations a forward saves for its backward and the
/// outputs and scratch tensors it caches. The schedule that runs the model owns the keys: plain training (and
/// gradient accumulation, whose micro-batches run one after another) uses micro-batch 0; a pipeline keeps
/// several micro-batches in flight, one key each. Evaluation has a set of its own, so that its larger batches
/// never move the training buffers (a captured CUDA graph reads those at fixed addresses). Keys are values to
/// compare, not numbers to compute with.
class BufferKey {
 public:
  /// Training micro-batch `index` (0-based) of the schedule.
  static BufferKey micro_batch(int64_t index) {
    SPRINT_CHECK(index >= 0 && index < kMaxMicroBatches, "micro-batch index {} is outside 0..{}", index,
                 kMaxMicroBatches - 1);
    return BufferKey(Kind::kTraining, index);
  }
  /// The buffers of evaluation (forward passes only).
  static BufferKey evaluation() { return BufferKey(Kind::kEvaluation, 0); }

  bool is_evaluation() const {
    switch (kind_) {
      case Kind::kTraining:
        return false;
      case Kind::kEvaluation:
        return true;
    }
    return false;
  }
  /// The micro-batch index of a training key.
  int64_t micro_batch_index() const {
    SPRINT_CHECK(!is_evaluation(), "the evaluation buffers are not a training micro-batch");
    return index_;
  }
  /// "micro-batch 2" / "evaluation", for messages.
  std::string description() const {
    return is_evaluation() ? std::string("evaluation") : "micro-batch " + std::to_string(index_);
  }
  /// A dense index over every key (evaluation first), for containers indexed by key.
  size_t dense_index() const { return is_evaluation() ? 0 : static_cast<size_t>(index_) + 1; }

  bool operator==(const BufferKey&) const = default;

  /// Pipelines keep at most this many micro-batches in flight (a bound that catches a runaway index).
  static constexpr int64_t kMaxMicroBatches = 1 << 16;

 private:
  enum class Kind { kTraining, kEvaluation };
  BufferKey(Kind kind, int64_t index) : kind_(kind), index_(index) {}
  Kind kind_;
  int64_t index_;
};

/// What a layer keeps per BufferKey (its saved activations, say): forward writes the entry with at(),
/// backward reads it with saved(), which fails with one clear message when the forward of that key never ran.
template <class T>
class PerBuffer {
 public:
  /// The entry of `key`, created empty on first use.
  T& at(BufferKey key) {
    const size_t i = key.dense_index();
    if (i >= entries_.size()) entries_.resize(i + 1);
    if (!entries_[i]) entries_[i].emplace();
    return *entries_[i];
  }
  /// The entry that `layer`'s forward made for `key`; throws when there is none.
  T& saved(BufferKey key, const char* layer) {
    const size_t i = key.dense_index();
    SPRINT_CHECK(i < entries_.size() && entries_[i], "{}::backward called before forward ({})", layer,
                 key.description());
    return *entries_[i];
  }
  const T& saved(BufferKey key, const char* layer) const {
    return const_cast<PerBuffer&>(*this).saved(key, layer);
  }
  /// True when an entry exists for `key`.
  bool contains(BufferKey key) const {
    const size_t i = key.dense_index();
    return i < entries_.size() && entries_[i].has_value();
  }
  /// Drops the entry of `key` (and what it holds), e.g. once a micro-batch's backward has run.
  void erase(BufferKey key) {
    const size_t i = key.dense_index();
    if (i < entries_.size()) entries_[i].reset();
  }
  void clear() { entries_.clear(); }

 private:
  std::vector<std::optional<T>> entries_;
};

}  // namespace sprint::nn
