#include "ui/LabelPanel.h"

#include "core/tasks/LabellingSession.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

#include <cmath>

namespace radiolens {

namespace {

QString dateText(const std::string& d) {
    return d.size() == 8 ? QString::fromStdString(d.substr(0, 4) + "-" + d.substr(4, 2) + "-" +
                                                  d.substr(6, 2))
                         : QString::fromStdString(d);
}

} // namespace

LabelPanel::LabelPanel(LabellingSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session) {
    auto* layout = new QVBoxLayout(this);

    auto* who = new QFormLayout;
    m_annotator = new QLineEdit(
        QSettings().value(QStringLiteral("labelling/annotator"), session->annotator()).toString());
    m_annotator->setToolTip(tr("Your name as the labels record it"));
    who->addRow(tr("Annotator"), m_annotator);
    layout->addLayout(who);
    session->setAnnotator(m_annotator->text());
    connect(m_annotator, &QLineEdit::editingFinished, this, [this] {
        m_session->setAnnotator(m_annotator->text());
        QSettings().setValue(QStringLiteral("labelling/annotator"), m_annotator->text());
    });

    auto* work = new QGroupBox(tr("Worklist"));
    auto* workLayout = new QVBoxLayout(work);
    auto* orderRow = new QHBoxLayout;
    m_order = new QComboBox;
    m_order->addItem(tr("Most uncertain first (entropy)"), int(WorklistOrder::Entropy));
    m_order->addItem(tr("Smallest margin first"), int(WorklistOrder::Margin));
    m_order->addItem(tr("By study date"), int(WorklistOrder::Date));
    m_order->setToolTip(tr("Active learning: label first what the active model is least sure "
                           "of, where a label teaches the next model most"));
    m_refresh = new QPushButton(tr("Refresh"));
    orderRow->addWidget(m_order, 1);
    orderRow->addWidget(m_refresh);
    workLayout->addLayout(orderRow);
    m_secondReading = new QCheckBox(tr("Second reading: include images others labelled"));
    m_secondReading->setToolTip(tr("For agreement studies: list every image you have not "
                                   "labelled yourself"));
    workLayout->addWidget(m_secondReading);
    m_worklist = new QListWidget;
    m_worklist->setMinimumHeight(140);
    workLayout->addWidget(m_worklist, 1);
    m_worklistStatus = new QLabel(tr("Refresh to list the images still to label"));
    m_worklistStatus->setWordWrap(true);
    workLayout->addWidget(m_worklistStatus);
    layout->addWidget(work, 1);

    auto* current = new QGroupBox(tr("This image"));
    auto* currentLayout = new QVBoxLayout(current);
    m_image = new QLabel(tr("No image"));
    m_image->setWordWrap(true);
    m_others = new QLabel;
    m_others->setWordWrap(true);
    m_suggestion = new QLabel;
    m_suggestion->setWordWrap(true);
    m_accept = new QPushButton(tr("Accept Suggestion (Enter)"));
    currentLayout->addWidget(m_image);
    currentLayout->addWidget(m_others);
    currentLayout->addWidget(m_suggestion);
    currentLayout->addWidget(m_accept);
    auto* levelRow = new QHBoxLayout;
    m_level = new QComboBox;
    m_level->addItem(tr("this image"), int(LabelLevel::Image));
    m_level->addItem(tr("its series"), int(LabelLevel::Series));
    m_level->addItem(tr("its study"), int(LabelLevel::Study));
    levelRow->addWidget(new QLabel(tr("A label applies to")));
    levelRow->addWidget(m_level, 1);
    currentLayout->addLayout(levelRow);
    connect(m_level, &QComboBox::currentIndexChanged, this,
            [this] { m_session->setLevel(LabelLevel(m_level->currentData().toInt())); });
    m_classGrid = new QGridLayout;
    currentLayout->addLayout(m_classGrid);
    auto* addClass = new QPushButton(tr("Add Class..."));
    currentLayout->addWidget(addClass);
    auto* navigation = new QHBoxLayout;
    auto* previous = new QPushButton(tr("< Previous (K)"));
    auto* next = new QPushButton(tr("Next Unlabelled (J) >"));
    navigation->addWidget(previous);
    navigation->addWidget(next);
    currentLayout->addLayout(navigation);
    auto* edits = new QHBoxLayout;
    m_undo = new QPushButton(tr("Undo"));
    m_undo->setToolTip(tr("Ctrl+Z"));
    m_redo = new QPushButton(tr("Redo"));
    m_redo->setToolTip(tr("Ctrl+Shift+Z"));
    auto* withdraw = new QPushButton(tr("Withdraw"));
    withdraw->setToolTip(tr("Take your label of this image back (the history keeps it)"));
    edits->addWidget(m_undo);
    edits->addWidget(m_redo);
    edits->addWidget(withdraw);
    currentLayout->addLayout(edits);
    layout->addWidget(current);

    m_counts = new QLabel;
    m_counts->setWordWrap(true);
    m_agreement = new QLabel;
    m_agreement->setWordWrap(true);
    layout->addWidget(m_counts);
    layout->addWidget(m_agreement);

    auto* files = new QHBoxLayout;
    auto* importButton = new QPushButton(tr("Import..."));
    auto* exportButton = new QPushButton(tr("Export..."));
    files->addWidget(importButton);
    files->addWidget(exportButton);
    layout->addLayout(files);
    auto* models = new QHBoxLayout;
    auto* train = new QPushButton(tr("Train New Model..."));
    auto* registry = new QPushButton(tr("Models..."));
    models->addWidget(train);
    models->addWidget(registry);
    layout->addLayout(models);
    m_status = new QLabel;
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    connect(m_refresh, &QPushButton::clicked, this, &LabelPanel::refreshWorklist);
    connect(m_order, &QComboBox::currentIndexChanged, this, &LabelPanel::refreshWorklist);
    connect(m_secondReading, &QCheckBox::toggled, this, &LabelPanel::refreshWorklist);
    connect(m_worklist, &QListWidget::currentRowChanged, this, [this](int row) {
        if (row >= 0 && row != m_session->currentIndex()) {
            m_session->setCurrent(row);
            Q_EMIT openRequested(m_session->current());
        }
    });
    connect(m_accept, &QPushButton::clicked, this, &LabelPanel::acceptSuggestion);
    connect(addClass, &QPushButton::clicked, this, [this] {
        const QString name = QInputDialog::getText(this, tr("Add Class"), tr("Class name:"));
        if (!name.trimmed().isEmpty()) {
            m_session->addClass(name);
            rebuildClassButtons();
        }
    });
    connect(previous, &QPushButton::clicked, this, [this] { goToUnlabelled(-1); });
    connect(next, &QPushButton::clicked, this, [this] { goToUnlabelled(1); });
    connect(m_undo, &QPushButton::clicked, this, &LabelPanel::undo);
    connect(m_redo, &QPushButton::clicked, this, &LabelPanel::redo);
    connect(withdraw, &QPushButton::clicked, this, [this] { m_session->withdraw(); });
    connect(importButton, &QPushButton::clicked, this, &LabelPanel::importLabels);
    connect(exportButton, &QPushButton::clicked, this, &LabelPanel::exportLabels);
    connect(train, &QPushButton::clicked, this, &LabelPanel::trainRequested);
    connect(registry, &QPushButton::clicked, this, &LabelPanel::modelsRequested);

    connect(session, &LabellingSession::worklistReady, this, [this] {
        m_refresh->setEnabled(true);
        fillWorklist();
        rebuildClassButtons(); // and the current image
    });
    connect(session, &LabellingSession::worklistFailed, this, [this](const QString& reason) {
        m_refresh->setEnabled(true);
        m_worklistStatus->setText(tr("The worklist could not be made: %1").arg(reason));
    });
    connect(session, &LabellingSession::currentChanged, this, &LabelPanel::updateCurrent);
    connect(session, &LabellingSession::modelChanged, this, &LabelPanel::rebuildClassButtons);
    connect(session, &LabellingSession::labelsChanged, this, [this] {
        rebuildClassButtons(); // and the current image
        updateCounts();
    });
    connect(session, &LabellingSession::failed, this, &LabelPanel::show);
    rebuildClassButtons(); // and the current image
    updateCounts();
}

void LabelPanel::refreshWorklist() {
    m_refresh->setEnabled(false);
    m_worklistStatus->setText(tr("Making the worklist (the active model reads the images it has "
                                 "not seen)..."));
    m_session->refreshWorklist(WorklistOrder(m_order->currentData().toInt()),
                               m_secondReading->isChecked());
}

void LabelPanel::fillWorklist() {
    const Worklist& list = m_session->worklist();
    const QSignalBlocker blocker(m_worklist);
    m_worklist->clear();
    for (const WorklistItem& item : list.items) {
        QString text =
            QStringLiteral("%1  %2  %3")
                .arg(QString::fromStdString(item.record.patientId), dateText(item.record.studyDate),
                     QString::fromStdString(item.record.modality));
        if (item.suggestedClass >= 0) {
            text +=
                tr("  -> %1 %2 %")
                    .arg(QString::fromStdString(list.classNames[std::size_t(item.suggestedClass)]))
                    .arg(std::lround(100 * item.probabilities[std::size_t(item.suggestedClass)]));
        }
        auto* row = new QListWidgetItem(text, m_worklist);
        row->setToolTip(QString::fromStdString(item.record.instance.path));
    }
    QString status =
        tr("%1 images to label, %2 labelled").arg(list.items.size()).arg(list.labelled);
    status += list.modelId.empty() ? tr("; no active model, so by date")
                                   : tr("; model %1 %2")
                                         .arg(QString::fromStdString(list.modelId),
                                              QString::fromStdString(list.modelVersion));
    if (!list.problems.empty()) {
        status += tr("; %1 left out: %2")
                      .arg(list.problems.size())
                      .arg(QString::fromStdString(list.problems.front()));
    }
    m_worklistStatus->setText(status);
}

void LabelPanel::rebuildClassButtons() {
    const QStringList names = m_session->classes();
    const auto mine = m_session->counts(false);
    const auto text = [&mine](int i, const QString& name) {
        const auto it = mine.find(name.toStdString());
        const QString key = i < 9 ? QString::number(i + 1) + QStringLiteral("  ") : QString();
        return QStringLiteral("%1%2  (%3)").arg(key, name).arg(it == mine.end() ? 0 : it->second);
    };
    if (names == m_buttonClasses) {
        // The same classes: only the counts change (every label key press comes here).
        for (int i = 0; i < m_classButtons.size(); ++i) {
            m_classButtons[i]->setText(text(i, names[i]));
        }
        updateCurrent();
        return;
    }
    while (!m_classButtons.isEmpty()) {
        // Later: this may run inside the clicked button's own signal.
        QPushButton* button = m_classButtons.takeLast();
        m_classGrid->removeWidget(button);
        button->hide();
        button->deleteLater();
    }
    for (int i = 0; i < names.size(); ++i) {
        auto* button = new QPushButton(text(i, names[i]));
        button->setCheckable(true);
        connect(button, &QPushButton::clicked, this, [this, i] { labelWithClass(i); });
        m_classGrid->addWidget(button, i / 2, i % 2);
        m_classButtons << button;
    }
    m_buttonClasses = names;
    updateCurrent();
}

void LabelPanel::updateCurrent() {
    const bool has = m_session->hasCurrent();
    const QString mine = has ? m_session->currentLabel() : QString();
    const QStringList names = m_session->classes();
    for (int i = 0; i < m_classButtons.size(); ++i) {
        m_classButtons[i]->setEnabled(has);
        m_classButtons[i]->setChecked(has && i < names.size() && names[i] == mine);
    }
    m_undo->setEnabled(m_session->canUndo());
    m_redo->setEnabled(m_session->canRedo());
    if (!has) {
        m_image->setText(tr("No image: pick one from the worklist, or open a study"));
        m_others->clear();
        m_suggestion->clear();
        m_accept->setEnabled(false);
        return;
    }
    const InstanceRecord& r = m_session->current();
    m_image->setText(
        tr("<b>%1</b> %2, %3 %4<br>your label: <b>%5</b>")
            .arg(QString::fromStdString(r.patientId),
                 QString::fromStdString(r.patientName).replace(QLatin1Char('^'), QLatin1Char(' ')),
                 dateText(r.studyDate), QString::fromStdString(r.modality),
                 mine.isEmpty() ? tr("none") : mine));
    QStringList others;
    for (const Label& l : m_session->currentLabels()) {
        if (QString::fromStdString(l.annotator) != m_session->annotator()) {
            others << QStringLiteral("%1: %2%3")
                          .arg(QString::fromStdString(l.annotator),
                               QString::fromStdString(l.className),
                               l.source == LabelSource::Model ? tr(" (model, confirmed)")
                                                              : QString());
        }
    }
    m_others->setText(others.isEmpty() ? tr("No other reader has labelled it")
                                       : tr("Others: %1").arg(others.join(QStringLiteral("; "))));
    m_suggestion->setText(suggestionText());
    m_accept->setEnabled(!m_session->suggestedClass().isEmpty());
    const int row = m_session->currentIndex();
    if (row != m_worklist->currentRow()) {
        const QSignalBlocker blocker(m_worklist);
        m_worklist->setCurrentRow(row);
    }
}

void LabelPanel::updateCounts() {
    const auto mine = m_session->counts(false);
    const auto all = m_session->counts(true);
    QStringList parts;
    for (const auto& [name, n] : all) {
        const auto it = mine.find(name);
        parts << tr("%1 %2 (yours %3)")
                     .arg(QString::fromStdString(name))
                     .arg(n)
                     .arg(it == mine.end() ? 0 : it->second);
    }
    m_counts->setText(parts.isEmpty() ? tr("No labels yet")
                                      : tr("Labels: %1").arg(parts.join(QStringLiteral(", "))));
    const auto agreement = m_session->agreement();
    m_agreement->setText(
        agreement
            ? tr("Agreement with %1: Cohen's kappa %2 on %3 images (%4 % the same)")
                  .arg(QString::fromStdString(agreement->readerB))
                  .arg(std::isnan(agreement->kappa) ? tr("undefined")
                                                    : QString::number(agreement->kappa, 'f', 2))
                  .arg(agreement->items)
                  .arg(std::lround(100 * agreement->observed))
            : tr("No second reader yet"));
}

QString LabelPanel::suggestionText() const {
    if (m_session->modelName().isEmpty()) {
        return tr("No active model: train one from your labels, then promote it");
    }
    const QString suggested = m_session->suggestedClass();
    if (suggested.isEmpty()) {
        return tr("Model %1 has not read this image (refresh the worklist)")
            .arg(m_session->modelName());
    }
    return tr("Model %1 suggests <b>%2</b> (%3 %)")
        .arg(m_session->modelName(), suggested)
        .arg(100.0 * m_session->suggestedProbability(), 0, 'f', 1);
}

void LabelPanel::labelWithClass(int index) {
    const QStringList names = m_session->classes();
    if (index < 0 || index >= names.size()) {
        show(tr("There is no class %1; add classes first").arg(index + 1));
        return;
    }
    if (m_session->label(names[index])) {
        show(tr("Labelled %1").arg(names[index]));
    }
}

void LabelPanel::acceptSuggestion() {
    if (m_session->acceptSuggestion()) {
        show(tr("Accepted the model's %1").arg(m_session->suggestedClass()));
    }
}

bool LabelPanel::goToUnlabelled(int step) {
    const int row = m_session->nextUnlabelled(step);
    if (row < 0) {
        show(step > 0 ? tr("No unlabelled image after this one")
                      : tr("No unlabelled image before this one"));
        return false;
    }
    m_session->setCurrent(row);
    Q_EMIT openRequested(m_session->current());
    return true;
}

void LabelPanel::undo() {
    if (m_session->undo()) {
        show(tr("Undone"));
    }
}

void LabelPanel::redo() {
    if (m_session->redo()) {
        show(tr("Redone"));
    }
}

void LabelPanel::importLabels() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Import Labels"), QString(),
                                                      tr("Labels (*.csv *.json)"));
    if (!path.isEmpty()) {
        show(m_session->importLabels(path));
    }
}

void LabelPanel::exportLabels() {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export Labels"), QStringLiteral("labels.csv"), tr("CSV (*.csv);;JSON (*.json)"));
    if (!path.isEmpty()) {
        show(m_session->exportLabels(path));
    }
}

void LabelPanel::show(const QString& message) {
    m_status->setText(message);
}

QString LabelPanel::statusText() const {
    return m_status->text();
}

QString LabelPanel::countsText() const {
    return m_counts->text();
}

QStringList LabelPanel::classButtonTexts() const {
    QStringList texts;
    for (const QPushButton* b : m_classButtons) {
        texts << b->text();
    }
    return texts;
}

int LabelPanel::worklistRows() const {
    return m_worklist->count();
}

} // namespace radiolens
