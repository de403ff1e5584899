// augment_flags.h: the augmentation flags sprint train and sprint fisher share, as typed options.
#pragma once

#include <string>

#include "sprint/data/augment.h"

namespace sprint::cli {

/// --crop-pad, --crop-mode, --flip, --cutout as typed options; throws InvalidArgument naming the flag. Whether they
/// fit the data set (image data, padding below the image side) is checked by the loader.
data::AugmentOptions augment_from_flags(int crop_pad, const std::string& crop_mode, const std::string& flip,
                                        int cutout);

}  // namespace sprint::cli
