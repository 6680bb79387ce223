#include "core/tasks/LabellingSession.h"

#include "core/ml/MlRuntime.h"
#include "core/domain/Paths.h"
#include "core/store/LabelFiles.h"
#include "core/store/LabelStore.h"
#include "core/store/ModelRegistry.h"
#include "core/store/StudyStore.h"

#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <set>
#include <sstream>

namespace radiolens {

namespace {

/// Cancels background work once the flag is set.
class StopFlag final : public ProgressSink {
public:
    explicit StopFlag(std::shared_ptr<std::atomic<bool>> stop)
        : m_stop(std::move(stop)) {}
    bool report(double) override { return !m_stop->load(); }

private:
    std::shared_ptr<std::atomic<bool>> m_stop;
};

} // namespace

LabellingSession::LabellingSession(StudyStore& store, QObject* parent)
    : QObject(parent)
    , m_store(store)
    , m_annotator(QString::fromStdString(StudyStore::defaultActor()))
    , m_watcher(new QFutureWatcher<Worklist>(this)) {
    connect(m_watcher, &QFutureWatcher<Worklist>::finished, this, [this] {
        try {
            m_worklist = m_watcher->result();
        } catch (const std::exception& e) {
            Q_EMIT worklistFailed(QString::fromStdString(e.what()));
            return;
        }
        m_position = -1;
        readActiveModel();
        Q_EMIT worklistReady();
    });
    readActiveModel();
}

void LabellingSession::readActiveModel() {
    m_modelId.clear();
    m_modelVersion.clear();
    m_modelClasses.clear();
    try {
        if (const auto active = ModelRegistry(m_store).active()) {
            m_modelId = active->modelId;
            m_modelVersion = active->version;
            m_modelClasses = active->card.classNames;
        }
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromStdString(e.what()));
    }
}

void LabellingSession::activeModelChanged() {
    readActiveModel();
    loadSuggestion();
    Q_EMIT modelChanged();
    Q_EMIT currentChanged();
}

LabellingSession::~LabellingSession() {
    if (m_stop) {
        *m_stop = true; // a worklist being made stops at its next image
    }
    waitQuietly();
}

void LabellingSession::waitQuietly() {
    try {
        m_watcher->waitForFinished();
    } catch (...) {
        // A cancelled or failed build: its reason no longer matters.
    }
}

void LabellingSession::setAnnotator(const QString& name) {
    if (name.trimmed().isEmpty() || name.trimmed() == m_annotator) {
        return;
    }
    m_annotator = name.trimmed();
    m_undo.clear();
    m_redo.clear();
    Q_EMIT labelsChanged();
}

QStringList LabellingSession::classes() const {
    QStringList names;
    for (const std::string& name : m_modelClasses) {
        names << QString::fromStdString(name);
    }
    for (const std::string& name : LabelStore(m_store).classes()) {
        if (!names.contains(QString::fromStdString(name))) {
            names << QString::fromStdString(name);
        }
    }
    return names;
}

bool LabellingSession::addClass(const QString& name) {
    try {
        LabelStore(m_store).addClass(name.trimmed().toStdString(), m_annotator.toStdString());
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromStdString(e.what()));
        return false;
    }
    Q_EMIT labelsChanged();
    return true;
}

void LabellingSession::refreshWorklist(WorklistOrder order, bool secondReading) {
    const std::string path = m_store.path();
    const std::string annotator = secondReading ? m_annotator.toStdString() : std::string();
    if (m_stop) {
        *m_stop = true; // a worklist still being made stops at its next image
    }
    waitQuietly();
    m_stop = std::make_shared<std::atomic<bool>>(false);
    m_watcher->setFuture(QtConcurrent::run([path, order, annotator, stop = m_stop] {
        StudyStore store(path);
        MlEngine* engine = nullptr;
        if (ModelRegistry(store).active()) {
            engine = &MlRuntime::engine(); // the model's suggestions; throws if it cannot load
        }
        StopFlag progress(stop);
        return buildWorklist(store, engine, order, annotator, &progress);
    }));
}

bool LabellingSession::isBuildingWorklist() const {
    return m_watcher->isRunning();
}

void LabellingSession::setCurrent(int index) {
    if (index < 0 || index >= int(m_worklist.items.size())) {
        return;
    }
    m_position = index;
    m_current = m_worklist.items[std::size_t(index)].record;
    loadSuggestion();
    Q_EMIT currentChanged();
}

void LabellingSession::setCurrentImage(const InstanceRecord& image) {
    if (m_current && m_current->instance.sopInstanceUid == image.instance.sopInstanceUid) {
        return;
    }
    m_current = image;
    m_position = -1;
    for (std::size_t i = 0; i < m_worklist.items.size(); ++i) {
        if (m_worklist.items[i].record.instance.sopInstanceUid == image.instance.sopInstanceUid) {
            m_position = int(i);
        }
    }
    loadSuggestion();
    Q_EMIT currentChanged();
}

void LabellingSession::loadSuggestion() {
    m_suggestion.clear();
    if (!m_current) {
        return;
    }
    if (m_position >= 0 && m_worklist.modelId == m_modelId &&
        m_worklist.modelVersion == m_modelVersion) {
        m_suggestion = m_worklist.items[std::size_t(m_position)].probabilities;
        return;
    }
    if (m_modelId.empty()) {
        return;
    }
    try {
        std::vector<double> p = LabelStore(m_store).suggestion(m_modelId, m_modelVersion,
                                                               m_current->instance.sopInstanceUid);
        if (p.size() == m_modelClasses.size()) {
            m_suggestion = std::move(p);
        }
    } catch (const std::exception&) {
    }
}

int LabellingSession::nextUnlabelled(int step) const {
    LabelQuery mine;
    mine.annotator = m_annotator.toStdString();
    std::set<std::string> labelled[3]; // by level
    for (const Label& l : LabelStore(m_store).current(mine)) {
        labelled[int(l.level)].insert(l.item);
    }
    const int n = int(m_worklist.items.size());
    for (int i = m_position + step; i >= 0 && i < n; i += step) {
        const InstanceRecord& r = m_worklist.items[std::size_t(i)].record;
        const bool done = labelled[int(LabelLevel::Image)].count(r.instance.sopInstanceUid) ||
                          labelled[int(LabelLevel::Series)].count(r.seriesInstanceUid) ||
                          labelled[int(LabelLevel::Study)].count(r.studyInstanceUid);
        if (!done) {
            return i;
        }
    }
    return -1;
}

void LabellingSession::setLevel(LabelLevel level) {
    if (level != m_level) {
        m_level = level;
        Q_EMIT currentChanged();
    }
}

std::string LabellingSession::currentItem() const {
    if (!m_current) {
        return {};
    }
    return m_level == LabelLevel::Image    ? m_current->instance.sopInstanceUid
           : m_level == LabelLevel::Series ? m_current->seriesInstanceUid
                                           : m_current->studyInstanceUid;
}

std::vector<Label> LabellingSession::currentLabels() const {
    if (!m_current) {
        return {};
    }
    LabelQuery q;
    q.level = m_level;
    q.item = currentItem();
    return LabelStore(m_store).current(q);
}

QString LabellingSession::currentLabel() const {
    for (const Label& l : currentLabels()) {
        if (l.annotator == m_annotator.toStdString()) {
            return QString::fromStdString(l.className);
        }
    }
    return {};
}

QString LabellingSession::suggestedClass() const {
    if (m_suggestion.empty() || m_suggestion.size() != m_modelClasses.size()) {
        return {};
    }
    const auto top = std::max_element(m_suggestion.begin(), m_suggestion.end());
    return QString::fromStdString(m_modelClasses[std::size_t(top - m_suggestion.begin())]);
}

double LabellingSession::suggestedProbability() const {
    return m_suggestion.empty() ? 0.0 : *std::max_element(m_suggestion.begin(), m_suggestion.end());
}

QString LabellingSession::modelName() const {
    return m_modelId.empty() ? QString() : QString::fromStdString(m_modelId + " " + m_modelVersion);
}

bool LabellingSession::apply(Label label, bool record) {
    if (!m_current) {
        Q_EMIT failed(tr("Open an image to label first"));
        return false;
    }
    label.level = m_level;
    label.item = currentItem();
    label.annotator = m_annotator.toStdString();
    label.timeMs = 0;
    Change change;
    change.level = label.level;
    change.item = label.item;
    for (const Label& l : currentLabels()) {
        if (l.annotator == label.annotator) {
            change.before = l;
        }
    }
    if (change.before.className == label.className && change.before.source == label.source &&
        change.before.confirmed == label.confirmed) {
        return true; // nothing changes
    }
    try {
        change.after = LabelStore(m_store).add(label);
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromStdString(e.what()));
        return false;
    }
    if (record) {
        m_undo.push_back(change);
        m_redo.clear();
    }
    Q_EMIT labelsChanged();
    return true;
}

bool LabellingSession::label(const QString& name) {
    Label l;
    l.className = name.toStdString();
    return apply(l, true);
}

bool LabellingSession::acceptSuggestion() {
    const QString suggested = suggestedClass();
    if (suggested.isEmpty()) {
        Q_EMIT failed(tr("The model has no suggestion for this image"));
        return false;
    }
    Label l;
    l.className = suggested.toStdString();
    l.source = LabelSource::Model;
    l.modelId = m_modelId;
    l.modelVersion = m_modelVersion;
    l.probability = suggestedProbability();
    l.confirmed = true;
    return apply(l, true);
}

bool LabellingSession::withdraw() {
    return apply(Label{}, true);
}

bool LabellingSession::undo() {
    if (m_undo.empty()) {
        return false;
    }
    const Change change = m_undo.back();
    // Back to the label before: the same class, source and confirmation (or none).
    Label before = change.before;
    Label restore;
    restore.level = change.level;
    restore.item = change.item;
    restore.annotator = m_annotator.toStdString();
    restore.className = before.className;
    restore.source = before.className.empty() ? LabelSource::Human : before.source;
    restore.modelId = before.modelId;
    restore.modelVersion = before.modelVersion;
    restore.probability = before.probability;
    restore.confirmed = before.confirmed;
    try {
        LabelStore(m_store).add(restore);
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromStdString(e.what()));
        return false;
    }
    m_undo.pop_back();
    m_redo.push_back(change);
    Q_EMIT labelsChanged();
    return true;
}

bool LabellingSession::redo() {
    if (m_redo.empty()) {
        return false;
    }
    const Change change = m_redo.back();
    Label again = change.after;
    again.id = 0;
    again.timeMs = 0;
    try {
        LabelStore(m_store).add(again);
    } catch (const std::exception& e) {
        Q_EMIT failed(QString::fromStdString(e.what()));
        return false;
    }
    m_redo.pop_back();
    m_undo.push_back(change);
    Q_EMIT labelsChanged();
    return true;
}

std::map<std::string, std::size_t> LabellingSession::counts(bool everyone) const {
    return LabelStore(m_store).counts(everyone ? std::string() : m_annotator.toStdString());
}

QString LabellingSession::importLabels(const QString& path) {
    try {
        const LabelFileContents contents =
            readLabelFile(path.toStdString(), m_annotator.toStdString());
        LabelStore labels(m_store);
        const std::size_t added = radiolens::importLabels(
            labels, contents, m_annotator.toStdString(), "import " + path.toStdString());
        Q_EMIT labelsChanged();
        QString text = tr("%1: %2 rows, %3 labels imported, %4 unchanged, %5 skipped")
                           .arg(path)
                           .arg(contents.rows)
                           .arg(added)
                           .arg(contents.labels.size() - added)
                           .arg(contents.problems.size());
        if (!contents.problems.empty()) {
            text += QStringLiteral(" (") + QString::fromStdString(contents.problems.front()) +
                    QStringLiteral(")");
        }
        return text;
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
}

QString LabellingSession::exportLabels(const QString& path) {
    try {
        const std::vector<Label> labels = LabelStore(m_store).current();
        std::ostringstream text;
        if (path.endsWith(QStringLiteral(".json"), Qt::CaseInsensitive)) {
            writeLabelsJson(text, labels);
        } else {
            writeLabelsCsv(text, labels);
        }
        writeFileAtomically(path.toStdString(), text.str());
        return tr("%1 labels written to %2").arg(labels.size()).arg(path);
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
}

std::optional<Agreement> LabellingSession::agreement() const {
    LabelStore labels(m_store);
    std::optional<Agreement> best;
    for (const std::string& other : labels.annotators()) {
        if (other == m_annotator.toStdString()) {
            continue;
        }
        Agreement a = labels.agreement(m_annotator.toStdString(), other, LabelLevel::Image);
        if (a.items > 0 && (!best || a.items > best->items)) {
            best = std::move(a);
        }
    }
    return best;
}

} // namespace radiolens
