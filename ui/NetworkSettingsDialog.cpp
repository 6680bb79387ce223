#include "ui/NetworkSettingsDialog.h"

#include "core/tasks/PacsService.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include <stdexcept>

namespace radiolens {

namespace {

enum Column { Name, AeTitle, Host, Port, Retrieve, TlsCa, Columns };

/// The TLS CA cell also carries the node's client certificate and key (set in the settings
/// file), so that editing the table keeps them.
constexpr int kCertificateRole = Qt::UserRole;
constexpr int kKeyRole = Qt::UserRole + 1;

QSpinBox* spin(int lo, int hi, int value, const QString& suffix = {}) {
    auto* box = new QSpinBox;
    box->setRange(lo, hi);
    box->setValue(value);
    box->setSuffix(suffix);
    return box;
}

} // namespace

NetworkSettingsDialog::NetworkSettingsDialog(PacsService& service, QWidget* parent)
    : QDialog(parent)
    , m_service(service) {
    setWindowTitle(tr("Network Settings"));
    const NetworkSettings& s = service.settings();

    auto* own = new QFormLayout;
    m_ownAe = new QLineEdit(QString::fromStdString(s.ownAeTitle));
    m_ownAe->setMaxLength(16);
    m_port = spin(1, 65535, s.listenPort);
    m_listen = new QCheckBox(tr("Receive studies pushed to Radiolens (C-STORE listener)"));
    m_listen->setChecked(s.listenerEnabled);
    m_onlyKnown =
        new QCheckBox(tr("Accept studies only from the nodes below (by calling AE title)"));
    m_onlyKnown->setChecked(s.listenerOnlyKnownNodes);
    m_folder = new QLineEdit(QString::fromStdString(s.incomingFolderOrDefault()));
    auto* browse = new QPushButton(tr("Browse..."));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString dir =
            QFileDialog::getExistingDirectory(this, tr("Incoming folder"), m_folder->text());
        if (!dir.isEmpty()) {
            m_folder->setText(dir);
        }
    });
    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(m_folder, 1);
    folderRow->addWidget(browse);
    m_connectTimeout = spin(1, 3600, s.connectTimeoutSeconds, tr(" s"));
    m_responseTimeout = spin(1, 3600, s.responseTimeoutSeconds, tr(" s"));
    own->addRow(tr("Our AE title:"), m_ownAe);
    own->addRow(tr("Listening port:"), m_port);
    own->addRow(QString(), m_listen);
    own->addRow(QString(), m_onlyKnown);
    own->addRow(tr("Incoming folder:"), folderRow);
    own->addRow(tr("Connection timeout:"), m_connectTimeout);
    own->addRow(tr("Response timeout:"), m_responseTimeout);

    m_nodes = new QTableWidget(0, Columns);
    m_nodes->setHorizontalHeaderLabels({tr("Name"), tr("AE title"), tr("Host"), tr("Port"),
                                        tr("Retrieve with"), tr("TLS CA file")});
    m_nodes->horizontalHeaderItem(TlsCa)->setToolTip(
        tr("PEM file of the certificate authority that vouches for the node: when set, Radiolens "
           "talks DICOM over TLS and verifies the node's certificate; empty: plain TCP"));
    m_nodes->horizontalHeader()->setStretchLastSection(true);
    m_nodes->setSelectionBehavior(QAbstractItemView::SelectRows);
    for (const DicomNode& node : s.nodes) {
        addNode(node);
    }
    auto* add = new QPushButton(tr("&Add Node"));
    auto* remove = new QPushButton(tr("&Remove"));
    auto* echo = new QPushButton(tr("&Echo"));
    echo->setToolTip(tr("C-ECHO: checks that the node answers and accepts our AE title"));
    connect(add, &QPushButton::clicked, this, [this] {
        DicomNode node;
        node.name = tr("New node").toStdString();
        node.aeTitle = "PACS";
        node.host = "127.0.0.1";
        node.port = 104;
        addNode(node);
        m_nodes->selectRow(m_nodes->rowCount() - 1);
    });
    connect(remove, &QPushButton::clicked, this, [this] {
        const int row = m_nodes->currentRow();
        if (row >= 0) {
            m_nodes->removeRow(row);
        }
    });
    connect(echo, &QPushButton::clicked, this, &NetworkSettingsDialog::echoSelected);
    connect(&m_service, &PacsService::echoed, this,
            [this](const QString&, bool ok, const QString& message) {
                m_status->setText((ok ? tr("Echo OK: ") : tr("Echo failed: ")) + message);
            });
    auto* nodeButtons = new QHBoxLayout;
    nodeButtons->addWidget(add);
    nodeButtons->addWidget(remove);
    nodeButtons->addWidget(echo);
    nodeButtons->addStretch(1);

    m_status = new QLabel;
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, &NetworkSettingsDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &NetworkSettingsDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(own);
    layout->addWidget(new QLabel(tr("Remote nodes (archives, modalities, workstations):")));
    layout->addWidget(m_nodes, 1);
    layout->addLayout(nodeButtons);
    layout->addWidget(m_status);
    layout->addWidget(buttons);
    resize(760, 520);
}

void NetworkSettingsDialog::addNode(const DicomNode& node) {
    const int row = m_nodes->rowCount();
    m_nodes->insertRow(row);
    m_nodes->setItem(row, Name, new QTableWidgetItem(QString::fromStdString(node.name)));
    m_nodes->setItem(row, AeTitle, new QTableWidgetItem(QString::fromStdString(node.aeTitle)));
    m_nodes->setItem(row, Host, new QTableWidgetItem(QString::fromStdString(node.host)));
    m_nodes->setItem(row, Port, new QTableWidgetItem(QString::number(node.port)));
    auto* method = new QComboBox;
    method->addItems({tr("C-GET"), tr("C-MOVE")});
    method->setCurrentIndex(node.retrieveWithMove ? 1 : 0);
    m_nodes->setCellWidget(row, Retrieve, method);
    auto* tls = new QTableWidgetItem(QString::fromStdString(node.tlsCaFile));
    tls->setData(kCertificateRole, QString::fromStdString(node.tlsCertificateFile));
    tls->setData(kKeyRole, QString::fromStdString(node.tlsKeyFile));
    if (!node.tlsCertificateFile.empty()) {
        tls->setToolTip(
            tr("Our client certificate: %1").arg(QString::fromStdString(node.tlsCertificateFile)));
    }
    m_nodes->setItem(row, TlsCa, tls);
}

NetworkSettings NetworkSettingsDialog::settingsShown() const {
    NetworkSettings s = m_service.settings();
    s.ownAeTitle = m_ownAe->text().trimmed().toStdString();
    try {
        checkAeTitle(s.ownAeTitle);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(tr("Our AE title: ").toStdString() + e.what());
    }
    s.listenPort = m_port->value();
    s.listenerEnabled = m_listen->isChecked();
    s.listenerOnlyKnownNodes = m_onlyKnown->isChecked();
    s.incomingFolder = m_folder->text().trimmed().toStdString();
    s.connectTimeoutSeconds = m_connectTimeout->value();
    s.responseTimeoutSeconds = m_responseTimeout->value();
    s.nodes.clear();
    for (int row = 0; row < m_nodes->rowCount(); ++row) {
        auto cell = [&](int column) {
            const QTableWidgetItem* item = m_nodes->item(row, column);
            return item ? item->text().trimmed() : QString();
        };
        DicomNode node;
        node.name = cell(Name).toStdString();
        node.aeTitle = cell(AeTitle).toStdString();
        node.host = cell(Host).toStdString();
        bool ok = false;
        node.port = cell(Port).toInt(&ok);
        const QString where = tr("Node %1 (%2): ").arg(row + 1).arg(cell(Name));
        try {
            checkAeTitle(node.aeTitle);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument((where + tr("AE title: ")).toStdString() + e.what());
        }
        if (node.host.empty()) {
            throw std::invalid_argument((where + tr("the host is empty")).toStdString());
        }
        if (!ok || node.port < 1 || node.port > 65535) {
            throw std::invalid_argument((where + tr("the port must be 1-65535")).toStdString());
        }
        if (node.name.empty()) {
            node.name = node.aeTitle;
        }
        if (const auto* method = qobject_cast<QComboBox*>(m_nodes->cellWidget(row, Retrieve))) {
            node.retrieveWithMove = method->currentIndex() == 1;
        }
        node.tlsCaFile = cell(TlsCa).toStdString();
        if (const QTableWidgetItem* tls = m_nodes->item(row, TlsCa);
            tls && !node.tlsCaFile.empty()) {
            node.tlsCertificateFile = tls->data(kCertificateRole).toString().toStdString();
            node.tlsKeyFile = tls->data(kKeyRole).toString().toStdString();
        }
        s.nodes.push_back(node);
    }
    return s;
}

void NetworkSettingsDialog::accept() {
    NetworkSettings s;
    try {
        s = settingsShown();
    } catch (const std::invalid_argument& e) {
        m_status->setText(QString::fromStdString(e.what()));
        return;
    }
    const QString error = m_service.saveSettings(s);
    if (!error.isEmpty()) {
        // Not saved, or saved but the listener could not start: say why and stay open.
        m_status->setText(error);
        return;
    }
    QDialog::accept();
}

void NetworkSettingsDialog::echoSelected() {
    NetworkSettings s;
    try {
        s = settingsShown();
    } catch (const std::invalid_argument& e) {
        m_status->setText(QString::fromStdString(e.what()));
        return;
    }
    const int row = m_nodes->currentRow();
    if (row < 0 || row >= int(s.nodes.size())) {
        m_status->setText(tr("Choose a node to echo"));
        return;
    }
    m_status->setText(tr("Echoing %1...").arg(QString::fromStdString(s.nodes[row].address())));
    m_service.echo(s.nodes[std::size_t(row)]);
}

QString NetworkSettingsDialog::statusText() const {
    return m_status->text();
}

} // namespace radiolens
