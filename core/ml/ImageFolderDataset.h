#pragma once

#include "core/ml/ImageDataset.h"

#include <string>

namespace radiolens {

/// Reads a dataset of pictures (PNG, JPEG, BMP) listed in a CSV file:
///
///     file,label,split
///     images/0001.png,pneumonia,train
///     images/0002.png,normal,val
///
/// `file` is relative to the CSV's folder; `label` a class name; `split` (optional column)
/// train, val or test. Without a split column, images go to train / val / test by a hash of the
/// file name (80 / 10 / 10 %), so the assignment never changes between runs. Class names are
/// the labels, sorted. Every image is resized (bilinear, area-averaged when shrinking) to
/// `size` x `size`, or kept at its size when all share one and `size` is 0. Colour pictures
/// make a 3-channel dataset, grey ones 1-channel (grey pictures in a colour dataset are
/// replicated). Throws std::runtime_error naming the CSV line or the image on anything it
/// cannot use.
ImageDataset loadImageFolder(const std::string& csvPath, int size = 0);

/// A dataset file by its kind: a MedMNIST `.npz` (loadMedMnist) or a CSV of pictures
/// (loadImageFolder, resized to `size`). Throws std::runtime_error naming the file for anything
/// else, or for what those refuse.
ImageDataset loadImageDataset(const std::string& path, int size = 0);

} // namespace radiolens
