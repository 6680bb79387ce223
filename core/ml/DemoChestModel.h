#pragma once

#include "core/ml/ImageDataset.h"
#include "core/ml/MlEngine.h"

#include <cstdint>
#include <string>

namespace radiolens {

/// Sizes of the synthetic chest radiograph dataset the demo's classifier learns from. Half of
/// each split has a nodule. Cases are drawn from disjoint seed ranges, so no case is in two
/// splits, and none is one of the demo study's own radiographs (kDemoStudyChestSeed on).
struct DemoChestDataOptions {
    int size = 128; ///< pixels; the model's input size
    std::size_t train = 1600;
    std::size_t validation = 200;
    std::size_t test = 200;
};

/// The dataset: classes "no nodule", "nodule", images rendered as the viewer shows them through
/// the file's window (see chestDisplayPixels). Deterministic.
ImageDataset makeDemoChestDataset(const DemoChestDataOptions& options = {});

/// What training the demo classifier produced, measured on its held-out test split.
struct DemoChestReport {
    ModelCard card;
    ModelMetrics test;
    std::size_t positives = 0;     ///< test images with a nodule
    std::size_t peaksInLesion = 0; ///< of those, how many have their Grad-CAM maximum inside it
    double seconds = 0.0;          ///< training and evaluation
};

/// Trains the demo's nodule classifier with Radiolens's own training code (small CNN of width
/// 16 at 128 px: 6 epochs with average pooling, then 10 fine-tuned with max pooling and
/// flip-averaged Grad-CAM, keeping the fine-tuned epoch best by validation AUC plus the share of
/// validation nodules with the Grad-CAM maximum inside; the normal defaults otherwise) into
/// `dir`, then measures it on the test split: AUC, accuracy, and where the Grad-CAM maximum of
/// the "nodule" class falls on each positive image. The figures are written into the card (metrics
/// "test", training "gradcam-peak-in-lesion"). About two minutes on two cores. Throws
/// std::runtime_error on failure ("cancelled" when the observer said stop; nothing is written
/// then).
DemoChestReport trainDemoChestModel(MlEngine& engine, const std::string& dir,
                                    const TrainObserver& observer = {});

/// Measures the model in `dir` on the demo's test split as trainDemoChestModel does (the card
/// it returns carries the figures; nothing is written).
DemoChestReport measureDemoChestModel(MlEngine& engine, const std::string& dir);

/// Where the demo classifier lives: the user's data folder, models/demo-chest.
std::string demoChestModelFolder();

} // namespace radiolens
