#pragma once

#include "core/ml/ModelComparison.h"

#include <QFutureWatcher>
#include <QWidget>

#include <memory>

class QChart;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QTableWidget;
class QTextBrowser;

namespace radiolens {

class StudyStore;

/// The model registry: every version with its validation figures, parent, label count and
/// whether it is active; promote and roll back; and two versions compared on the same images
/// (the validation patients of the store's labels and the validation splits of the external
/// datasets the newer one was trained on, or those datasets' test splits): ROC curves, reliability diagram with ECE,
/// confusion matrices and sensitivity / specificity at a chosen threshold, with an HTML report
/// to export. The comparison runs in the background. GUI thread only.
class ModelsWindow : public QWidget {
    Q_OBJECT
public:
    /// `store` must outlive the window.
    explicit ModelsWindow(StudyStore& store, QWidget* parent = nullptr);
    ~ModelsWindow() override;

    /// Reads the registry again.
    void refresh();
    /// Compares versions in rows `a` and `b` of the table (in the background).
    void compareRows(int a, int b);
    bool isComparing() const;
    /// "val" (the default) or "test": the images compareRows() uses.
    void setComparisonSet(const QString& split);
    /// The comparison shown (after comparisonShown).
    const ModelComparison* comparison() const { return m_comparison.get(); }
    /// Writes the shown comparison as HTML; false with the reason in the status line.
    bool exportReport(const QString& path);

    // For tests.
    int rows() const;
    QString statusText() const;
    QTableWidget* table() const { return m_table; }

Q_SIGNALS:
    /// The active version changed (promote or roll back).
    void activeModelChanged();
    void comparisonShown();

private:
    void promoteSelected();
    void rollBack();
    void showComparison();
    std::vector<int> selectedRows() const;

    StudyStore& m_store;
    QTableWidget* m_table = nullptr;
    QDoubleSpinBox* m_threshold = nullptr;
    QComboBox* m_set = nullptr;
    QPushButton* m_compare = nullptr;
    QPushButton* m_export = nullptr;
    QLabel* m_status = nullptr;
    QChart* m_roc = nullptr;
    QChart* m_reliability = nullptr;
    QTableWidget* m_figures = nullptr;
    QTextBrowser* m_confusion = nullptr;
    QFutureWatcher<std::shared_ptr<ModelComparison>>* m_watcher = nullptr;
    std::shared_ptr<ModelComparison> m_comparison;
};

} // namespace radiolens
