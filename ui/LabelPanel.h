#pragma once

#include "core/domain/StudyIndex.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QGridLayout;
class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;

namespace radiolens {

class LabellingSession;

/// The labelling panel: who labels, the worklist (by date, or the images the active model is
/// least sure of first), the image being labelled with everyone's labels and the model's
/// suggestion, a button per class (keys 1-9 in labelling mode), accept the suggestion
/// (Enter), next / previous unlabelled (J / K), undo and redo, withdraw, counts per class and
/// the agreement with another reader; import and export of labels, and the way to training
/// and the model registry. GUI thread only.
class LabelPanel : public QWidget {
    Q_OBJECT
public:
    explicit LabelPanel(LabellingSession* session, QWidget* parent = nullptr);

    LabellingSession* session() const { return m_session; }

    /// Labels the current image with class `index` (0-based, as the buttons are numbered).
    void labelWithClass(int index);
    void acceptSuggestion();
    /// Opens the next (`step` 1) or previous (-1) worklist image this annotator has not
    /// labelled; false when there is none.
    bool goToUnlabelled(int step);
    void undo();
    void redo();
    /// Builds the worklist again in the chosen order.
    void refreshWorklist();

    // For tests and the status bar.
    QString statusText() const;
    QString suggestionText() const;
    QString countsText() const;
    QStringList classButtonTexts() const;
    int worklistRows() const;

Q_SIGNALS:
    /// The reader asked to see this image (a worklist item).
    void openRequested(const radiolens::InstanceRecord& image);
    void trainRequested();
    void modelsRequested();

private:
    void rebuildClassButtons();
    void updateCurrent();
    void updateCounts();
    void fillWorklist();
    void importLabels();
    void exportLabels();
    void show(const QString& message);

    LabellingSession* m_session;
    QLineEdit* m_annotator = nullptr;
    QComboBox* m_order = nullptr;
    QComboBox* m_level = nullptr;
    QPushButton* m_refresh = nullptr;
    QCheckBox* m_secondReading = nullptr;
    QListWidget* m_worklist = nullptr;
    QLabel* m_worklistStatus = nullptr;
    QLabel* m_image = nullptr;
    QLabel* m_others = nullptr;
    QLabel* m_suggestion = nullptr;
    QPushButton* m_accept = nullptr;
    QGridLayout* m_classGrid = nullptr;
    QList<QPushButton*> m_classButtons;
    QStringList m_buttonClasses; ///< the classes the buttons are for, in order
    QPushButton* m_undo = nullptr;
    QPushButton* m_redo = nullptr;
    QLabel* m_counts = nullptr;
    QLabel* m_agreement = nullptr;
    QLabel* m_status = nullptr;
};

} // namespace radiolens
