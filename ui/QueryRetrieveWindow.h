#pragma once

#include "core/dicom/PacsClient.h"
#include "core/domain/Retrieval.h"

#include <QWidget>

#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace radiolens {

class PacsService;

/// Query / Retrieve: choose a node, search its studies by patient name, ID, date range,
/// modality and accession number, and retrieve the chosen ones into the local store (C-GET, or
/// C-MOVE to our listener when the node is set so). Each study row shows whether it is here
/// already, complete or incomplete; a retrieval shows its progress and can be cancelled, and a
/// failed one says why and is retried with Retrieve (only the missing instances are fetched).
/// The main window shows studies in its browser as they arrive. GUI thread only.
class QueryRetrieveWindow : public QWidget {
    Q_OBJECT
public:
    /// `service` must outlive the window.
    explicit QueryRetrieveWindow(PacsService& service, QWidget* parent = nullptr);

    /// Reloads the node list from the service's settings.
    void reloadNodes();
    /// Starts a study-level search with the filters shown.
    void search();
    /// Retrieves the selected studies (none when nothing is selected).
    void retrieveSelected();

    // For tests and scripts.
    QTableWidget* table() const { return m_table; }
    QLineEdit* patientNameField() const { return m_name; }
    QLineEdit* patientIdField() const { return m_id; }
    QComboBox* modalityField() const { return m_modality; }
    QString statusText() const;

Q_SIGNALS:
    /// The service's networking settings changed in the dialog opened from here.
    void settingsChanged();

private:
    void showMatches(const std::vector<QueryMatch>& matches, const QString& error);
    void showRetrieval(const Retrieval& r);
    void setRowState(const QString& studyUid, const QString& text);
    void updateButtons();
    bool currentNode(DicomNode& node) const;

    PacsService& m_service;
    QComboBox* m_node = nullptr;
    QLineEdit* m_name = nullptr;
    QLineEdit* m_id = nullptr;
    QLineEdit* m_from = nullptr;
    QLineEdit* m_to = nullptr;
    QComboBox* m_modality = nullptr;
    QLineEdit* m_accession = nullptr;
    QPushButton* m_searchButton = nullptr;
    QPushButton* m_retrieveButton = nullptr;
    QPushButton* m_cancelButton = nullptr;
    QTableWidget* m_table = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    std::vector<QueryMatch> m_matches;
};

} // namespace radiolens
