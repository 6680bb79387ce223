#pragma once

#include "core/tasks/AiReadingService.h"

#include <QHash>
#include <QPointer>
#include <QWidget>

#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QSlider;
class QTableWidget;

namespace radiolens {

class ProbabilityStrip;
class Viewport;

/// The AI reading panel: the model in use, class probabilities of the image or slice shown and
/// of the whole series (a study is as suspicious as its most suspicious slice), a per-slice
/// probability strip, and the saliency overlay's controls: method, class, colour scale,
/// opacity, threshold, show/hide (S), and deletion/insertion AUC on request.
///
/// Follows the active viewport: when a model is loaded and "Classify automatically" is on, a
/// series the model accepts is classified as soon as it is loaded, and the shown slice is
/// explained with the chosen method (the positive class for a binary model, else the most
/// probable one). All model work runs on the AiReadingService's thread. GUI thread only.
class AiPanel : public QWidget {
    Q_OBJECT
public:
    explicit AiPanel(AiReadingService* service, QWidget* parent = nullptr);

    /// The viewport whose image the panel reads and draws on.
    void setViewport(Viewport* viewport);
    Viewport* viewport() const { return m_viewport; }
    /// A viewport finished loading its series: classify it if the panel follows it.
    void volumeLoaded(Viewport* viewport);
    /// Classify the active viewport's series now.
    void classifyNow();
    /// Explain the shown slice now (with faithfulness when `withFaithfulness`).
    void explainNow(bool withFaithfulness = false);
    /// Shows or hides the overlay on the active viewport.
    void setOverlayVisible(bool visible);

    /// The result for the active viewport's series, if any.
    std::shared_ptr<const AiClassification> classification() const;
    /// Texts of the probability table, row by row: class, this slice, study (for tests).
    QStringList probabilityRows() const;
    ProbabilityStrip* strip() const { return m_strip; }
    QString statusText() const;
    QString faithfulnessText() const;
    /// The class the overlay explains (index into the card's classes).
    int explainedClass() const;
    void setMethod(SaliencyMethod method);
    void setOpacity(double opacity);
    void setThreshold(double threshold);

Q_SIGNALS:
    /// A classification of the active series arrived and is shown.
    void resultShown();
    /// An overlay arrived and is drawn.
    void overlayShown();
    /// Something went wrong; `reason` says what (also shown in the panel).
    void failed(const QString& reason);

private:
    void onModelLoaded(std::shared_ptr<const ModelCard> card, const QString& dir);
    void onClassified(std::shared_ptr<const AiClassification> result);
    void onExplained(std::shared_ptr<const AiExplanation> result);
    void showFailure(const QString& reason);
    void updateTable();
    void applyStyle();
    void onSliceChanged(int slice);
    SaliencyMethod method() const;

    AiReadingService* m_service;
    QPointer<Viewport> m_viewport;
    QHash<QString, std::shared_ptr<const AiClassification>> m_results; ///< by request key

    QLabel* m_model = nullptr;
    QLabel* m_status = nullptr;
    QTableWidget* m_table = nullptr;
    ProbabilityStrip* m_strip = nullptr;
    QCheckBox* m_auto = nullptr;
    QComboBox* m_method = nullptr;
    QComboBox* m_class = nullptr;
    QComboBox* m_colours = nullptr;
    QSlider* m_opacity = nullptr;
    QSlider* m_threshold = nullptr;
    QCheckBox* m_show = nullptr;
    QPushButton* m_explain = nullptr;
    QPushButton* m_faithfulness = nullptr;
    QLabel* m_faithfulnessText = nullptr;
};

} // namespace radiolens
