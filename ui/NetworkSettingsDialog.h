#pragma once

#include "core/domain/DicomNode.h"

#include <QDialog>

class QCheckBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QTableWidget;

namespace radiolens {

class PacsService;

/// Radiolens's own AE title, listening port, incoming folder and timeouts, and the remote nodes
/// (name, AE title, host, port, C-GET or C-MOVE) with a C-ECHO test of the selected node.
/// OK checks every field (AE titles of 1-16 characters, ports 1-65535) and saves to the
/// network settings file through the service; a wrong field is named and nothing is saved.
/// GUI thread only.
class NetworkSettingsDialog : public QDialog {
    Q_OBJECT
public:
    /// `service` must outlive the dialog.
    explicit NetworkSettingsDialog(PacsService& service, QWidget* parent = nullptr);

    /// The settings as the fields show them; throws std::invalid_argument naming a wrong field.
    NetworkSettings settingsShown() const;
    void accept() override;

    // For tests.
    QTableWidget* nodeTable() const { return m_nodes; }
    void addNode(const DicomNode& node);
    QString statusText() const;

private:
    void echoSelected();

    PacsService& m_service;
    QLineEdit* m_ownAe = nullptr;
    QSpinBox* m_port = nullptr;
    QCheckBox* m_listen = nullptr;
    QCheckBox* m_onlyKnown = nullptr;
    QLineEdit* m_folder = nullptr;
    QSpinBox* m_connectTimeout = nullptr;
    QSpinBox* m_responseTimeout = nullptr;
    QTableWidget* m_nodes = nullptr;
    QLabel* m_status = nullptr;
};

} // namespace radiolens
