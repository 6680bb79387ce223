#include "ui/QueryRetrieveWindow.h"

#include "core/tasks/PacsService.h"
#include "ui/NetworkSettingsDialog.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QTableWidget>
#include <QVBoxLayout>

#include <set>

namespace radiolens {

namespace {

enum Column { Patient, PatientId, Date, Modalities, Description, Accession, Images, Here, Columns };

QString dicomDate(const std::string& d) {
    return d.size() == 8 ? QString::fromStdString(d.substr(0, 4) + "-" + d.substr(4, 2) + "-" +
                                                  d.substr(6, 2))
                         : QString::fromStdString(d);
}

QString personName(const std::string& name) {
    QString text = QString::fromStdString(name);
    const QStringList parts = text.split(QLatin1Char('^'));
    if (parts.size() >= 2 && !parts[1].isEmpty()) {
        return parts[0] + QStringLiteral(", ") + parts[1];
    }
    return parts.value(0);
}

QString stateText(const Retrieval& r) {
    switch (r.state) {
    case Retrieval::State::Complete:
        return QObject::tr("here (%1 images)").arg(r.present);
    case Retrieval::State::Retrieving:
        return QObject::tr("interrupted: %1 of %2").arg(r.present).arg(r.expected);
    case Retrieval::State::Cancelled:
        return QObject::tr("cancelled: %1 of %2").arg(r.present).arg(r.expected);
    case Retrieval::State::Incomplete:
        return QObject::tr("incomplete: %1 of %2").arg(r.present).arg(r.expected);
    }
    return {};
}

/// "YYYYMMDD" from what a reader types: 2026-11-30, 20261130 or empty.
bool parseDate(const QString& text, std::string& out) {
    QString digits = text.trimmed();
    digits.remove(QLatin1Char('-'));
    if (digits.isEmpty()) {
        out.clear();
        return true;
    }
    static const QRegularExpression eight(QStringLiteral("^\\d{8}$"));
    if (!eight.match(digits).hasMatch()) {
        return false;
    }
    out = digits.toStdString();
    return true;
}

} // namespace

QueryRetrieveWindow::QueryRetrieveWindow(PacsService& service, QWidget* parent)
    : QWidget(parent, Qt::Window)
    , m_service(service) {
    setWindowTitle(tr("Query / Retrieve"));
    m_node = new QComboBox;
    auto* settings = new QPushButton(tr("&Settings..."));
    connect(settings, &QPushButton::clicked, this, [this] {
        NetworkSettingsDialog dialog(m_service, this);
        if (dialog.exec() == QDialog::Accepted) {
            reloadNodes();
            Q_EMIT settingsChanged();
        }
    });
    auto* echo = new QPushButton(tr("&Echo"));
    connect(echo, &QPushButton::clicked, this, [this] {
        DicomNode node;
        if (currentNode(node)) {
            m_status->setText(tr("Echoing %1...").arg(QString::fromStdString(node.address())));
            m_service.echo(node);
        }
    });
    connect(&m_service, &PacsService::echoed, this,
            [this](const QString&, bool ok, const QString& message) {
                m_status->setText((ok ? tr("Echo OK: ") : tr("Echo failed: ")) + message);
            });
    auto* nodeRow = new QHBoxLayout;
    nodeRow->addWidget(new QLabel(tr("Node:")));
    nodeRow->addWidget(m_node, 1);
    nodeRow->addWidget(echo);
    nodeRow->addWidget(settings);

    m_name = new QLineEdit;
    m_name->setPlaceholderText(tr("e.g. DOE^J*"));
    m_id = new QLineEdit;
    m_from = new QLineEdit;
    m_from->setPlaceholderText(tr("YYYY-MM-DD"));
    m_to = new QLineEdit;
    m_to->setPlaceholderText(tr("YYYY-MM-DD"));
    m_modality = new QComboBox;
    m_modality->addItems(
        {tr("Any"), "CT", "MR", "CR", "DX", "MG", "US", "PT", "NM", "XA", "RF", "SR", "SC", "OT"});
    m_accession = new QLineEdit;
    auto* filters = new QGridLayout;
    filters->addWidget(new QLabel(tr("Patient name:")), 0, 0);
    filters->addWidget(m_name, 0, 1);
    filters->addWidget(new QLabel(tr("Patient ID:")), 0, 2);
    filters->addWidget(m_id, 0, 3);
    filters->addWidget(new QLabel(tr("Accession:")), 0, 4);
    filters->addWidget(m_accession, 0, 5);
    filters->addWidget(new QLabel(tr("Study date from:")), 1, 0);
    filters->addWidget(m_from, 1, 1);
    filters->addWidget(new QLabel(tr("to:")), 1, 2);
    filters->addWidget(m_to, 1, 3);
    filters->addWidget(new QLabel(tr("Modality:")), 1, 4);
    filters->addWidget(m_modality, 1, 5);
    for (QLineEdit* field : {m_name, m_id, m_from, m_to, m_accession}) {
        connect(field, &QLineEdit::returnPressed, this, &QueryRetrieveWindow::search);
    }

    m_table = new QTableWidget(0, Columns);
    m_table->setHorizontalHeaderLabels({tr("Patient"), tr("Patient ID"), tr("Date"),
                                        tr("Modalities"), tr("Description"), tr("Accession"),
                                        tr("Images"), tr("Here")});
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(Description, QHeaderView::Stretch);
    m_table->setWordWrap(false);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->verticalHeader()->hide();
    connect(m_table, &QTableWidget::itemSelectionChanged, this,
            &QueryRetrieveWindow::updateButtons);
    connect(m_table, &QTableWidget::cellDoubleClicked, this, [this] { retrieveSelected(); });

    m_searchButton = new QPushButton(tr("&Search"));
    m_searchButton->setDefault(true);
    m_retrieveButton = new QPushButton(tr("&Retrieve"));
    m_retrieveButton->setToolTip(
        tr("Fetch the selected studies into the local store; a study cut off before is "
           "completed (only the missing images are fetched)"));
    m_cancelButton = new QPushButton(tr("&Cancel Retrieval"));
    connect(m_searchButton, &QPushButton::clicked, this, &QueryRetrieveWindow::search);
    connect(m_retrieveButton, &QPushButton::clicked, this, &QueryRetrieveWindow::retrieveSelected);
    connect(m_cancelButton, &QPushButton::clicked, this, [this] {
        m_service.cancelRetrievals();
        m_status->setText(tr("Cancelling..."));
    });
    m_progress = new QProgressBar;
    m_progress->setRange(0, 1000);
    m_progress->setTextVisible(true);
    m_progress->hide();
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_searchButton);
    buttons->addWidget(m_retrieveButton);
    buttons->addWidget(m_cancelButton);
    buttons->addWidget(m_progress, 1);

    m_status = new QLabel(tr("Choose a node and search."));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(nodeRow);
    layout->addLayout(filters);
    layout->addLayout(buttons);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_status);

    connect(&m_service, &PacsService::searched, this, &QueryRetrieveWindow::showMatches);
    connect(&m_service, &PacsService::retrievalStarted, this,
            [this](const QString& study, const QString& node) {
                setRowState(study, tr("retrieving..."));
                m_progress->setValue(0);
                m_progress->show();
                m_status->setText(tr("Retrieving a study from %1...").arg(node));
                updateButtons();
            });
    connect(&m_service, &PacsService::retrievalProgressed, this,
            [this](const QString& study, double fraction) {
                m_progress->setValue(int(fraction * 1000.0));
                m_progress->setFormat(QStringLiteral("%1 %p%").arg(study.right(12)));
            });
    connect(&m_service, &PacsService::retrievalFinished, this, &QueryRetrieveWindow::showRetrieval);
    reloadNodes();
    updateButtons();
    resize(980, 560);
}

void QueryRetrieveWindow::reloadNodes() {
    const QString current = m_node->currentText();
    m_node->clear();
    for (const DicomNode& node : m_service.settings().nodes) {
        m_node->addItem(
            QStringLiteral("%1  (%2)")
                .arg(QString::fromStdString(node.name), QString::fromStdString(node.address())));
    }
    const int index = m_node->findText(current);
    if (index >= 0) {
        m_node->setCurrentIndex(index);
    }
    if (m_node->count() == 0) {
        m_status->setText(tr("No node is configured: add your PACS in Settings."));
    }
    updateButtons();
}

bool QueryRetrieveWindow::currentNode(DicomNode& node) const {
    const int index = m_node->currentIndex();
    const auto& nodes = m_service.settings().nodes;
    if (index < 0 || index >= int(nodes.size())) {
        m_status->setText(tr("No node is configured: add your PACS in Settings."));
        return false;
    }
    node = nodes[std::size_t(index)];
    return true;
}

void QueryRetrieveWindow::search() {
    DicomNode node;
    if (!currentNode(node)) {
        return;
    }
    QueryFilter filter;
    filter.patientName = m_name->text().trimmed().toStdString();
    filter.patientId = m_id->text().trimmed().toStdString();
    filter.accessionNumber = m_accession->text().trimmed().toStdString();
    if (!parseDate(m_from->text(), filter.dateFrom) || !parseDate(m_to->text(), filter.dateTo)) {
        m_status->setText(tr("A study date is YYYY-MM-DD (or YYYYMMDD)."));
        return;
    }
    if (m_modality->currentIndex() > 0) {
        filter.modality = m_modality->currentText().toStdString();
    }
    m_searchButton->setEnabled(false);
    m_status->setText(tr("Searching %1...").arg(QString::fromStdString(node.address())));
    m_service.search(node, QueryLevel::Study, filter);
}

void QueryRetrieveWindow::showMatches(const std::vector<QueryMatch>& matches,
                                      const QString& error) {
    m_searchButton->setEnabled(true);
    if (!error.isEmpty()) {
        m_status->setText(tr("Search failed: %1").arg(error));
        return;
    }
    m_matches = matches;
    const auto here = m_service.retrievals();
    m_table->setSortingEnabled(false);
    m_table->setRowCount(int(matches.size()));
    for (int row = 0; row < int(matches.size()); ++row) {
        const QueryMatch& m = matches[std::size_t(row)];
        const QString images =
            m.studyInstances >= 0 ? QString::number(m.studyInstances) : QString();
        const auto kept = here.find(m.studyInstanceUid);
        const QString cells[Columns] = {personName(m.patientName),
                                        QString::fromStdString(m.patientId),
                                        dicomDate(m.studyDate),
                                        QString::fromStdString(m.modalitiesInStudy)
                                            .replace(QLatin1Char('\\'), QLatin1Char('/')),
                                        QString::fromStdString(m.studyDescription),
                                        QString::fromStdString(m.accessionNumber),
                                        images,
                                        kept == here.end() ? QString() : stateText(kept->second)};
        for (int c = 0; c < Columns; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setData(Qt::UserRole, QString::fromStdString(m.studyInstanceUid));
            if (c == Here && kept != here.end() && kept->second.incomplete()) {
                item->setForeground(QColor(200, 120, 0));
                item->setToolTip(QString::fromStdString(kept->second.error));
            }
            m_table->setItem(row, c, item);
        }
    }
    m_status->setText(tr("%n study(ies) found", nullptr, int(matches.size())));
    updateButtons();
}

void QueryRetrieveWindow::retrieveSelected() {
    DicomNode node;
    if (!currentNode(node)) {
        return;
    }
    if (node.retrieveWithMove && !m_service.listening()) {
        m_status->setText(tr("%1 retrieves with C-MOVE, which sends to our listener: turn the "
                             "listener on in Settings (and make sure the node knows our AE title, "
                             "host and port).")
                              .arg(QString::fromStdString(node.name)));
        return;
    }
    std::set<int> rows;
    for (const QModelIndex& index : m_table->selectionModel()->selectedRows()) {
        rows.insert(index.row());
    }
    if (rows.empty()) {
        // Never everything a broad search found: each study is patient data on this machine.
        m_status->setText(tr("Choose the studies to retrieve."));
        return;
    }
    for (const int row : rows) {
        const QString study = m_table->item(row, 0)->data(Qt::UserRole).toString();
        setRowState(study, tr("queued"));
        m_service.retrieve(node, study);
    }
    if (!rows.empty()) {
        m_status->setText(tr("%n study(ies) to retrieve", nullptr, int(rows.size())));
    }
    updateButtons();
}

void QueryRetrieveWindow::showRetrieval(const Retrieval& r) {
    const QString study = QString::fromStdString(r.studyInstanceUid);
    setRowState(study, stateText(r));
    for (int row = 0; row < m_table->rowCount(); ++row) {
        QTableWidgetItem* item = m_table->item(row, Here);
        if (item && item->data(Qt::UserRole).toString() == study) {
            item->setForeground(r.incomplete() ? QColor(200, 120, 0) : palette().text().color());
            item->setToolTip(QString::fromStdString(r.error));
        }
    }
    QString text;
    switch (r.state) {
    case Retrieval::State::Complete:
        text = tr("Retrieved %1 images of study %2.").arg(r.present).arg(study);
        break;
    case Retrieval::State::Cancelled:
        text = tr("Cancelled: %1 of %2 images are here; Retrieve fetches the rest.")
                   .arg(r.present)
                   .arg(r.expected);
        break;
    default:
        text = tr("Incomplete: %1 of %2 images are here. %3 Retrieve again to fetch the rest.")
                   .arg(r.present)
                   .arg(r.expected)
                   .arg(QString::fromStdString(r.error));
        break;
    }
    m_status->setText(text);
    if (m_service.pendingRetrievals() == 0) {
        m_progress->hide();
    }
    updateButtons();
}

void QueryRetrieveWindow::setRowState(const QString& studyUid, const QString& text) {
    for (int row = 0; row < m_table->rowCount(); ++row) {
        QTableWidgetItem* item = m_table->item(row, Here);
        if (item && item->data(Qt::UserRole).toString() == studyUid) {
            item->setText(text);
        }
    }
}

void QueryRetrieveWindow::updateButtons() {
    m_retrieveButton->setEnabled(m_table->selectionModel()->hasSelection());
    m_cancelButton->setEnabled(m_service.pendingRetrievals() > 0);
    m_searchButton->setEnabled(m_node->count() > 0);
}

QString QueryRetrieveWindow::statusText() const {
    return m_status->text();
}

} // namespace radiolens
