#pragma once

#include "core/domain/ModelCard.h"
#include "core/imaging/Volume.h"
#include "core/ml/MlEngine.h"
#include "core/tasks/WorkerQueue.h"

#include <QObject>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

namespace radiolens {

/// Class probabilities of every native slice of a volume and the study-level score.
struct AiClassification {
    QString key;                             ///< the viewport's request key
    std::vector<std::vector<double>> slices; ///< per slice, one probability per class
    /// Study level: a study is as suspicious as its most suspicious slice. Binary: the highest
    /// slice probability of the positive class (and one minus it); otherwise the highest slice
    /// probability of each class. For one image, that image's probabilities.
    std::vector<double> study;
    int mostSuspiciousSlice = 0;
    double seconds = 0.0;
};

/// A saliency map of one slice, with its faithfulness when asked for.
struct AiExplanation {
    QString key;
    int slice = 0;
    SaliencyMap map; ///< in the slice's own pixel geometry
    bool hasFaithfulness = false;
    Faithfulness faithfulness;
};

/// Runs the AI reading in the background: loads models (checked against their cards), trains
/// the demo's classifier the first time, classifies volumes slice by slice and computes
/// saliency maps, all on one worker thread that owns the engine's classifier. Requests return
/// at once; results come back as signals on the GUI thread. A new classification replaces the
/// one running (it stops at its next batch); explanations waiting behind a newer one are
/// dropped. Shutdown: stop flag, wake, wait. Methods: GUI thread only.
class AiReadingService : public QObject {
    Q_OBJECT
public:
    explicit AiReadingService(QObject* parent = nullptr);
    ~AiReadingService() override;

    /// Loads the model package in `dir` (opening the ML plugin first if needed).
    void loadModel(const QString& dir);
    /// Loads the demo classifier from `dir`, training it there first when it is missing.
    void ensureDemoModel(const QString& dir);
    /// Classifies every native slice of `volume`; `key` comes back with the result.
    void classify(const QString& key, std::shared_ptr<const Volume> volume);
    /// Saliency map of native slice `slice` for class `classIndex`.
    void explain(const QString& key, std::shared_ptr<const Volume> volume, int slice,
                 int classIndex, SaliencyMethod method, bool withFaithfulness);

    /// The loaded model's card; null before one is loaded.
    std::shared_ptr<const ModelCard> card() const { return m_card; }
    QString modelDir() const { return m_modelDir; }
    /// Empty when the loaded model can read `volume`, else why not.
    QString refusal(const Volume& volume) const;

Q_SIGNALS:
    void modelLoaded(std::shared_ptr<const radiolens::ModelCard> card, const QString& dir);
    void modelFailed(const QString& dir, const QString& reason);
    /// Demo training: fraction of the run (0..1) and a line to show.
    void trainingProgressed(double fraction, const QString& text);
    void classificationProgressed(const QString& key, double fraction);
    void classified(std::shared_ptr<const radiolens::AiClassification> result);
    void classificationFailed(const QString& key, const QString& reason);
    void explained(std::shared_ptr<const radiolens::AiExplanation> result);
    void explanationFailed(const QString& key, const QString& reason);

private:
    void post(WorkerQueue::Job job);
    void loadOnWorker(const QString& dir);

    std::shared_ptr<const ModelCard> m_card; ///< GUI thread copy
    QString m_modelDir;

    std::unique_ptr<WorkerQueue> m_worker;
    std::atomic<unsigned> m_classifyGeneration{0};
    std::atomic<unsigned> m_explainGeneration{0};
    std::unique_ptr<Classifier> m_classifier; ///< worker thread only
};

} // namespace radiolens

Q_DECLARE_METATYPE(std::shared_ptr<const radiolens::ModelCard>)
Q_DECLARE_METATYPE(std::shared_ptr<const radiolens::AiClassification>)
Q_DECLARE_METATYPE(std::shared_ptr<const radiolens::AiExplanation>)
