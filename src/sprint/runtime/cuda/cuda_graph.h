// cuda_graph.h: CudaGraph (a captured, instantiated CUDA graph) and GraphCapture (the RAII capture guard).
// Plain C++ with a pimpl, so train/ can capture whole training steps without including CUDA headers.
//
//   CudaGraph graph;
//   {
//     GraphCapture capture = graph.capture(stream);  // cudaStreamBeginCapture(..., ThreadLocal)
//     model.forward(...); model.backward(...); optimizer.step(...);
//     capture.finish();                               // end capture; instantiate, or update the existing
//     exec
//   }                                                 // leaving early (exception): capture ended and
//   discarded for (...) graph.replay(stream);                   // one cudaGraphLaunch per step
//
// Rules for captured work (checked by CUDA: breaking them invalidates the capture and finish() throws):
//   - no host synchronisation (Stream::synchronize, to_host, reading a loss on the host) and no legacy-stream
//     calls while capturing; work on other streams joins via events (Stream::wait_for) and must rejoin the
//     capturing stream before finish();
//   - addresses and shapes are baked in: every tensor the graph touches must stay allocated (and at the same
//     address) while the graph is replayed; feed new data by copying into the same input tensors;
//   - scalars passed by value (learning rate, step for Adam's bias correction) are baked in too.
// Re-capturing into the same CudaGraph first tries cudaGraphExecUpdate (cheap, keeps the exec) and
// re-instantiates only if the topology changed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "sprint/runtime/stream.h"

namespace sprint::cuda {

class GraphCapture;

class CudaGraph {
 public:
  CudaGraph();
  ~CudaGraph();
  CudaGraph(CudaGraph&& other) noexcept;
  CudaGraph& operator=(CudaGraph&& other) noexcept;
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  /// Starts capturing the work queued on `stream` (a CUDA stream of a sprint context, never the legacy
  /// default stream). Do not move or destroy this graph while the capture is active.
  [[nodiscard]] GraphCapture capture(const Stream& stream);
  /// True once a capture has finished successfully (replay() is allowed).
  bool ready() const;
  /// Launches the graph on `stream` (any stream of the device it was captured on).
  void replay(const Stream& stream);
  /// Drops the graph and its executable.
  void reset();

  /// Nodes in the captured graph (kernels, copies, memsets, event nodes).
  size_t n_nodes() const;
  /// How many captures were instantiated from scratch, and how many updated the existing exec in place.
  int64_t n_instantiations() const;
  int64_t n_updates() const;
  int64_t n_replays() const;

 private:
  friend class GraphCapture;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// RAII stream capture: the constructor begins it, finish() ends it and hands the graph to its CudaGraph; the
/// destructor ends and discards a capture that was not finished (exception path). Not copyable or movable.
class GraphCapture {
 public:
  GraphCapture(CudaGraph& graph, const Stream& stream);
  ~GraphCapture();
  GraphCapture(const GraphCapture&) = delete;
  GraphCapture& operator=(const GraphCapture&) = delete;
  GraphCapture(GraphCapture&&) = delete;
  GraphCapture& operator=(GraphCapture&&) = delete;

  /// Ends the capture and instantiates (or updates) the graph. Throws BackendError when the capture was
  /// invalidated by a capture-unsafe call; the CudaGraph then keeps its previous executable, if any.
  void finish();
  bool active() const { return active_; }

 private:
  CudaGraph::Impl* graph_;
  void* stream_;  // cudaStream_t
  int device_index_;
  bool active_ = false;
};

}  // namespace sprint::cuda
