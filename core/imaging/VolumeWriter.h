#pragma once

#include "core/imaging/Volume.h"

#include <string>

namespace radiolens {

/// Writes a volume with its geometry and unchanged values. The format follows the extension:
/// .mha/.mhd (MetaImage), .nrrd/.nhdr, .nii/.nii.gz (NIfTI; ITK converts LPS to RAS).
/// Throws std::runtime_error with the file name and reason on failure.
void writeVolume(const Volume& volume, const std::string& path);

/// True when `path` has an extension writeVolume understands.
bool isWritableVolumePath(const std::string& path);

/// Reads a volume written by writeVolume (or any MetaImage/NRRD/NIfTI ITK reads), for tests and
/// tools. Throws std::runtime_error on failure.
std::shared_ptr<Volume> readVolume(const std::string& path);

} // namespace radiolens
