#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace radiolens {

/// One array of a NumPy `.npy` file: little-endian, C order. Element types the datasets use:
/// uint8, int64 and float32 (the raw bytes are kept; `dtype` says which).
struct NpyArray {
    std::string dtype;               ///< NumPy's descr without the byte order: "u1", "i8", "f4"
    std::vector<std::size_t> shape;  ///< e.g. {4708, 28, 28} or {4708, 1}
    std::vector<std::uint8_t> bytes; ///< shape product x item size bytes

    std::size_t count() const;
    std::size_t itemSize() const;
    /// Element i as a double, whatever the dtype (for labels).
    double at(std::size_t i) const;
};

/// Reads a NumPy `.npz` archive (zip, stored or deflated, as np.savez and np.savez_compressed
/// write) into its arrays by name without the ".npy" suffix ("train_images"). Throws
/// std::runtime_error naming the file and the member on anything it cannot read: not a zip, a
/// truncated or corrupt member, a CRC mismatch, a big-endian, Fortran-order or object array.
std::map<std::string, NpyArray> readNpz(const std::string& path);

/// Parses one `.npy` file held in memory; `name` is used in error messages.
NpyArray parseNpy(const std::vector<std::uint8_t>& data, const std::string& name);

} // namespace radiolens
