#include "core/tasks/AiReadingService.h"

#include "core/ml/DemoChestModel.h"
#include "core/ml/MlRuntime.h"
#include "core/ml/ModelInput.h"

#include <QFileInfo>

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace radiolens {

namespace {

/// Slices per predict() call: progress and cancellation between batches.
constexpr std::size_t kBatchSlices = 16;

std::vector<double> studyScore(const std::vector<std::vector<double>>& slices,
                               const std::string& task, int& mostSuspicious) {
    mostSuspicious = 0;
    if (slices.empty()) {
        return {};
    }
    const std::size_t classes = slices.front().size();
    std::vector<double> study(classes, 0.0);
    for (std::size_t k = 0; k < slices.size(); ++k) {
        for (std::size_t c = 0; c < classes; ++c) {
            study[c] = std::max(study[c], slices[k][c]);
        }
    }
    // The slice that drives the study: highest probability of the positive class (binary), of
    // any class other than the first (multi-class: usually "normal"), or of any class
    // (multi-label).
    double best = -1.0;
    for (std::size_t k = 0; k < slices.size(); ++k) {
        double suspicion = 0.0;
        for (std::size_t c = classes > 1 && task != "multi-label" ? 1 : 0; c < classes; ++c) {
            suspicion = std::max(suspicion, slices[k][c]);
        }
        if (suspicion > best) {
            best = suspicion;
            mostSuspicious = int(k);
        }
    }
    if (task == "binary" && classes == 2) {
        study[0] = 1.0 - study[1];
    }
    return study;
}

} // namespace

AiReadingService::AiReadingService(QObject* parent)
    : QObject(parent) {
    qRegisterMetaType<std::shared_ptr<const ModelCard>>();
    qRegisterMetaType<std::shared_ptr<const AiClassification>>();
    qRegisterMetaType<std::shared_ptr<const AiExplanation>>();
    m_worker = std::make_unique<WorkerQueue>(QStringLiteral("AI reading"),
                                             [this] { m_classifier.reset(); });
}

AiReadingService::~AiReadingService() {
    ++m_classifyGeneration; // a running classification stops at its next batch
    m_worker->stop();       // a running job may still ask m_worker whether to stop
}

void AiReadingService::post(WorkerQueue::Job job) {
    m_worker->post(std::move(job));
}

QString AiReadingService::refusal(const Volume& volume) const {
    return m_card ? QString::fromStdString(modelRefusal(volume, *m_card))
                  : tr("no model is loaded");
}

void AiReadingService::loadOnWorker(const QString& dir) {
    try {
        std::unique_ptr<Classifier> model = MlRuntime::engine().loadClassifier(dir.toStdString());
        auto card = std::make_shared<const ModelCard>(model->card());
        m_classifier = std::move(model);
        // The GUI's copy of the card is set when the signal arrives, on the GUI thread.
        QMetaObject::invokeMethod(this, [this, card, dir] {
            m_card = card;
            m_modelDir = dir;
            Q_EMIT modelLoaded(card, dir);
        });
    } catch (const std::exception& e) {
        Q_EMIT modelFailed(dir, QString::fromStdString(e.what()));
    }
}

void AiReadingService::loadModel(const QString& dir) {
    post([this, dir] { loadOnWorker(dir); });
}

void AiReadingService::ensureDemoModel(const QString& dir) {
    post([this, dir] {
        if (!QFileInfo::exists(dir + QStringLiteral("/card.json"))) {
            try {
                MlEngine& engine = MlRuntime::engine();
                Q_EMIT trainingProgressed(0.0, tr("Training the demo's nodule classifier..."));
                trainDemoChestModel(engine, dir.toStdString(), [this](const TrainStatus& s) {
                    if (m_worker->stopping()) {
                        return false;
                    }
                    if (s.epochEnded) {
                        Q_EMIT trainingProgressed(
                            s.fraction, tr("Training the demo's nodule classifier: epoch %1 of "
                                           "%2, validation AUC %3")
                                            .arg(s.epoch)
                                            .arg(s.epochs)
                                            .arg(s.validationAuc, 0, 'f', 3));
                    }
                    return true;
                });
                Q_EMIT trainingProgressed(1.0, tr("The demo's nodule classifier is trained"));
            } catch (const std::exception& e) {
                Q_EMIT modelFailed(dir, QString::fromStdString(e.what()));
                return;
            }
        }
        loadOnWorker(dir);
    });
}

void AiReadingService::classify(const QString& key, std::shared_ptr<const Volume> volume) {
    const unsigned generation = ++m_classifyGeneration;
    post([this, key, volume, generation] {
        if (generation != m_classifyGeneration || !m_classifier) {
            if (!m_classifier) {
                Q_EMIT classificationFailed(key, tr("no model is loaded"));
            }
            return;
        }
        const auto start = std::chrono::steady_clock::now();
        const ModelCard& card = m_classifier->card();
        try {
            const std::string refusal = modelRefusal(*volume, card);
            if (!refusal.empty()) {
                throw std::runtime_error(refusal);
            }
            auto result = std::make_shared<AiClassification>();
            result->key = key;
            const std::size_t slices = volume->size()[2];
            const std::size_t classes = card.classNames.size();
            for (std::size_t first = 0; first < slices; first += kBatchSlices) {
                if (generation != m_classifyGeneration) {
                    return; // replaced by a newer request
                }
                const std::size_t count = std::min(kBatchSlices, slices - first);
                const std::vector<double> p =
                    m_classifier->predict(modelInput(*volume, first, count, card));
                for (std::size_t i = 0; i < count; ++i) {
                    result->slices.emplace_back(p.begin() + long(i * classes),
                                                p.begin() + long((i + 1) * classes));
                }
                Q_EMIT classificationProgressed(key, double(first + count) / double(slices));
            }
            result->study = studyScore(result->slices, card.task, result->mostSuspiciousSlice);
            result->seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            Q_EMIT classified(result);
        } catch (const std::exception& e) {
            Q_EMIT classificationFailed(key, QString::fromStdString(e.what()));
        }
    });
}

void AiReadingService::explain(const QString& key, std::shared_ptr<const Volume> volume, int slice,
                               int classIndex, SaliencyMethod method, bool withFaithfulness) {
    const unsigned generation = ++m_explainGeneration;
    post([=] {
        if (generation != m_explainGeneration) {
            return; // a newer explanation was asked for
        }
        if (!m_classifier) {
            Q_EMIT explanationFailed(key, tr("no model is loaded"));
            return;
        }
        try {
            const ModelCard& card = m_classifier->card();
            const std::string refusal = modelRefusal(*volume, card);
            if (!refusal.empty()) {
                throw std::runtime_error(refusal);
            }
            if (slice < 0 || std::size_t(slice) >= volume->size()[2] || classIndex < 0 ||
                std::size_t(classIndex) >= card.classNames.size()) {
                throw std::invalid_argument("no such slice or class");
            }
            const ImageSplit input = modelInput(*volume, std::size_t(slice), 1, card);
            auto result = std::make_shared<AiExplanation>();
            result->key = key;
            result->slice = slice;
            result->map = m_classifier->saliency(input, 0, classIndex, method);
            if (withFaithfulness) {
                result->faithfulness = m_classifier->faithfulness(input, 0, result->map);
                result->hasFaithfulness = true;
            }
            Q_EMIT explained(result);
        } catch (const std::exception& e) {
            Q_EMIT explanationFailed(key, QString::fromStdString(e.what()));
        }
    });
}

} // namespace radiolens
