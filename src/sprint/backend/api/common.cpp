// common.cpp: names for the shared op vocabulary.
#include "sprint/backend/api/common.h"

namespace sprint {

std::string_view activation_name(Activation activation) {
  switch (activation) {
    case Activation::kNone: return "none";
    case Activation::kReLU: return "relu";
  }
  return "?";
}

}  // namespace sprint
