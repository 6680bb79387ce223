#include "core/tasks/StudyTreeModel.h"

#include <QDate>
#include <QMimeData>

namespace radiolens {

namespace {

QString text(const std::string& s) {
    return QString::fromStdString(s);
}

QString dicomDate(const std::string& date) {
    const QDate d = QDate::fromString(text(date), QStringLiteral("yyyyMMdd"));
    return d.isValid() ? d.toString(Qt::ISODate) : text(date);
}

/// "Doe^John" -> "Doe, John" for display.
QString personName(const std::string& name) {
    QStringList parts = text(name).split(QLatin1Char('^'));
    while (!parts.isEmpty() && parts.back().trimmed().isEmpty()) {
        parts.removeLast();
    }
    if (parts.isEmpty()) {
        return QStringLiteral("(no name)");
    }
    const QString family = parts.takeFirst().trimmed();
    return parts.isEmpty() ? family
                           : family + QStringLiteral(", ") + parts.join(QLatin1Char(' ')).trimmed();
}

} // namespace

StudyTreeModel::StudyTreeModel(QObject* parent)
    : QAbstractItemModel(parent) {}

bool StudyTreeModel::listsImages(const SeriesEntry& series) {
    return isProjectionModality(series.modality) && series.instances.size() > 1;
}

void StudyTreeModel::setIndex(std::shared_ptr<const StudyIndex> index) {
    beginResetModel();
    m_index = std::move(index);
    m_nodes.clear();
    m_searchText.clear();
    m_patientNodes.clear();
    m_studyNodes.clear();
    m_seriesNodes.clear();
    m_instanceNodes.clear();
    if (m_index) {
        for (int p = 0; p < int(m_index->patients.size()); ++p) {
            m_patientNodes.push_back(int(m_nodes.size()));
            m_nodes.push_back({p, -1, -1, -1});
            const auto& studies = m_index->patients[std::size_t(p)].studies;
            m_studyNodes.emplace_back();
            m_seriesNodes.emplace_back();
            m_instanceNodes.emplace_back();
            for (int s = 0; s < int(studies.size()); ++s) {
                m_studyNodes.back().push_back(int(m_nodes.size()));
                m_nodes.push_back({p, s, -1, -1});
                m_seriesNodes.back().emplace_back();
                m_instanceNodes.back().emplace_back();
                const auto& seriesList = studies[std::size_t(s)].series;
                for (int r = 0; r < int(seriesList.size()); ++r) {
                    m_seriesNodes.back().back().push_back(int(m_nodes.size()));
                    m_nodes.push_back({p, s, r, -1});
                    m_instanceNodes.back().back().emplace_back();
                    const SeriesEntry& series = seriesList[std::size_t(r)];
                    if (listsImages(series)) {
                        for (int i = 0; i < int(series.instances.size()); ++i) {
                            m_instanceNodes.back().back().back().push_back(int(m_nodes.size()));
                            m_nodes.push_back({p, s, r, i});
                        }
                    }
                }
            }
        }
    }
    endResetModel();
}

const StudyTreeModel::Node* StudyTreeModel::nodeOf(const QModelIndex& index) const {
    if (!index.isValid() || index.internalId() >= m_nodes.size()) {
        return nullptr;
    }
    return &m_nodes[index.internalId()];
}

int StudyTreeModel::nodeId(int patient, int study, int series, int instance) const {
    if (study < 0) {
        return m_patientNodes[std::size_t(patient)];
    }
    if (series < 0) {
        return m_studyNodes[std::size_t(patient)][std::size_t(study)];
    }
    if (instance < 0) {
        return m_seriesNodes[std::size_t(patient)][std::size_t(study)][std::size_t(series)];
    }
    return m_instanceNodes[std::size_t(patient)][std::size_t(study)][std::size_t(series)]
                          [std::size_t(instance)];
}

QModelIndex StudyTreeModel::index(int row, int column, const QModelIndex& parent) const {
    if (row < 0 || column < 0 || column >= ColumnCount || row >= rowCount(parent)) {
        return {};
    }
    const Node* p = nodeOf(parent);
    int id = 0;
    if (p == nullptr) {
        id = nodeId(row, -1, -1);
    } else if (p->study < 0) {
        id = nodeId(p->patient, row, -1);
    } else if (p->series < 0) {
        id = nodeId(p->patient, p->study, row);
    } else {
        id = nodeId(p->patient, p->study, p->series, row);
    }
    return createIndex(row, column, quintptr(id));
}

QModelIndex StudyTreeModel::parent(const QModelIndex& child) const {
    const Node* n = nodeOf(child);
    if (n == nullptr || n->study < 0) {
        return {};
    }
    if (n->series < 0) {
        return createIndex(n->patient, 0, quintptr(nodeId(n->patient, -1, -1)));
    }
    if (n->instance < 0) {
        return createIndex(n->study, 0, quintptr(nodeId(n->patient, n->study, -1)));
    }
    return createIndex(n->series, 0, quintptr(nodeId(n->patient, n->study, n->series)));
}

int StudyTreeModel::rowCount(const QModelIndex& parent) const {
    if (!m_index) {
        return 0;
    }
    if (parent.isValid() && parent.column() != 0) {
        return 0;
    }
    const Node* p = nodeOf(parent);
    if (p == nullptr) {
        return int(m_index->patients.size());
    }
    const auto& patient = m_index->patients[std::size_t(p->patient)];
    if (p->study < 0) {
        return int(patient.studies.size());
    }
    if (p->series < 0) {
        return int(patient.studies[std::size_t(p->study)].series.size());
    }
    if (p->instance < 0) {
        const SeriesEntry& series =
            patient.studies[std::size_t(p->study)].series[std::size_t(p->series)];
        return listsImages(series) ? int(series.instances.size()) : 0;
    }
    return 0;
}

int StudyTreeModel::columnCount(const QModelIndex&) const {
    return ColumnCount;
}

const QString& StudyTreeModel::searchText(int id) const {
    if (m_searchText.size() != m_nodes.size()) {
        m_searchText.assign(m_nodes.size(), QString());
    }
    QString& text = m_searchText[std::size_t(id)];
    if (text.isEmpty()) {
        const Node& n = m_nodes[std::size_t(id)];
        const int row = n.study < 0      ? n.patient
                        : n.series < 0   ? n.study
                        : n.instance < 0 ? n.series
                                         : n.instance;
        const QModelIndex self = createIndex(row, 0, quintptr(id));
        for (int c = 0; c < ColumnCount; ++c) {
            text += self.siblingAtColumn(c).data().toString() + QLatin1Char('\n');
        }
        text = text.toLower();
        // With the ancestors', so that a patient's name finds all of its series.
        if (n.study >= 0) {
            const int parent = n.series < 0     ? nodeId(n.patient, -1, -1)
                               : n.instance < 0 ? nodeId(n.patient, n.study, -1)
                                                : nodeId(n.patient, n.study, n.series);
            text += searchText(parent);
        }
    }
    return text;
}

QVariant StudyTreeModel::data(const QModelIndex& index, int role) const {
    const Node* n = nodeOf(index);
    if (n == nullptr) {
        return {};
    }
    if (role == SearchTextRole) {
        return searchText(int(index.internalId()));
    }
    const PatientEntry& patient = m_index->patients[std::size_t(n->patient)];
    if (role == LevelRole) {
        return n->study < 0      ? PatientLevel
               : n->series < 0   ? StudyLevel
               : n->instance < 0 ? SeriesLevel
                                 : InstanceLevel;
    }
    if (n->study < 0) {
        if (role == Qt::DisplayRole) {
            switch (index.column()) {
            case NameColumn:
                return personName(patient.name) + QStringLiteral("  [") + text(patient.patientId) +
                       QLatin1Char(']');
            case DateColumn:
                return dicomDate(patient.birthDate);
            default:
                return {};
            }
        }
        return {};
    }
    const StudyEntry& study = patient.studies[std::size_t(n->study)];
    if (n->series < 0) {
        if (role == Qt::DisplayRole) {
            switch (index.column()) {
            case NameColumn: {
                const QString name = study.description.empty()
                                         ? QStringLiteral("(study without description)")
                                         : text(study.description);
                const QString note = m_studyNotes.value(text(study.studyInstanceUid));
                return note.isEmpty() ? name
                                      : name + QStringLiteral(" [") + note + QLatin1Char(']');
            }
            case DateColumn:
                return dicomDate(study.date);
            default:
                return {};
            }
        }
        if (role == Qt::ToolTipRole) {
            return m_studyNotes.value(text(study.studyInstanceUid));
        }
        return {};
    }
    const SeriesEntry& series = study.series[std::size_t(n->series)];
    if (role == SeriesUidRole) {
        return text(series.seriesInstanceUid);
    }
    if (n->instance >= 0) {
        const InstanceEntry& image = series.instances[std::size_t(n->instance)];
        if (role == InstancePathRole || role == Qt::ToolTipRole) {
            return text(image.path);
        }
        if (role == Qt::DisplayRole) {
            switch (index.column()) {
            case NameColumn:
                return tr("Image %1").arg(image.instanceNumber);
            case ModalityColumn:
                return text(series.modality);
            case InstancesColumn:
                return image.frames;
            default:
                return {};
            }
        }
        return {};
    }
    if (role == Qt::ToolTipRole) {
        return text(series.seriesInstanceUid);
    }
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case NameColumn:
            return QString::number(series.seriesNumber) + QStringLiteral("  ") +
                   (series.description.empty() ? QStringLiteral("(no description)")
                                               : text(series.description));
        case ModalityColumn:
            return text(series.modality);
        case DateColumn:
            return dicomDate(series.date.empty() ? study.date : series.date);
        case InstancesColumn:
            return qulonglong(series.instances.size());
        default:
            return {};
        }
    }
    return {};
}

QVariant StudyTreeModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) {
        return {};
    }
    switch (section) {
    case NameColumn:
        return tr("Patient / Study / Series");
    case ModalityColumn:
        return tr("Modality");
    case DateColumn:
        return tr("Date");
    case InstancesColumn:
        return tr("Images");
    default:
        return {};
    }
}

Qt::ItemFlags StudyTreeModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags flags = QAbstractItemModel::flags(index);
    const Node* n = nodeOf(index);
    if (n != nullptr && n->series >= 0) {
        flags |= Qt::ItemIsDragEnabled;
    }
    return flags;
}

QStringList StudyTreeModel::mimeTypes() const {
    return {QStringLiteral("application/x-radiolens-series")};
}

QMimeData* StudyTreeModel::mimeData(const QModelIndexList& indexes) const {
    for (const QModelIndex& index : indexes) {
        const QString uid = index.data(SeriesUidRole).toString();
        if (!uid.isEmpty()) {
            auto* mime = new QMimeData;
            const QString image = index.siblingAtColumn(0).data(InstancePathRole).toString();
            mime->setData(QStringLiteral("application/x-radiolens-series"),
                          (uid + QLatin1Char('\n') + image).toUtf8());
            return mime;
        }
    }
    return nullptr;
}

void StudyTreeModel::setStudyNote(const QString& studyInstanceUid, const QString& note) {
    if (m_studyNotes.value(studyInstanceUid) == note) {
        return;
    }
    if (note.isEmpty()) {
        m_studyNotes.remove(studyInstanceUid);
    } else {
        m_studyNotes.insert(studyInstanceUid, note);
    }
    m_searchText.clear(); // a note is part of its study's text
    if (rowCount() > 0) {
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
        // Study rows are children of patients: tell the views about them too.
        for (int p = 0; p < rowCount(); ++p) {
            const QModelIndex patient = index(p, 0);
            if (rowCount(patient) > 0) {
                Q_EMIT dataChanged(index(0, 0, patient),
                                   index(rowCount(patient) - 1, ColumnCount - 1, patient));
            }
        }
    }
}

QString StudyTreeModel::studyNote(const QString& studyInstanceUid) const {
    return m_studyNotes.value(studyInstanceUid);
}

QModelIndex StudyTreeModel::indexOfSeries(const QString& seriesInstanceUid) const {
    for (std::size_t id = 0; id < m_nodes.size(); ++id) {
        const Node& n = m_nodes[id];
        if (n.series >= 0 && n.instance < 0 &&
            text(m_index->patients[std::size_t(n.patient)]
                     .studies[std::size_t(n.study)]
                     .series[std::size_t(n.series)]
                     .seriesInstanceUid) == seriesInstanceUid) {
            return createIndex(n.series, 0, quintptr(id));
        }
    }
    return {};
}

ProblemListModel::ProblemListModel(QObject* parent)
    : QAbstractTableModel(parent) {}

namespace {

std::string problemKey(const Problem& p) {
    return p.path + '\0' + p.reason;
}

} // namespace

void ProblemListModel::setProblems(std::vector<Problem> problems) {
    beginResetModel();
    m_problems.clear();
    m_listed.clear();
    for (Problem& p : problems) {
        if (m_listed.insert(problemKey(p)).second) {
            m_problems.push_back(std::move(p));
        }
    }
    endResetModel();
}

void ProblemListModel::addProblems(const std::vector<Problem>& problems) {
    // A series opened again reports the same problems: each is listed once (hashed, so a
    // folder with thousands of broken files costs no pairwise comparisons).
    std::vector<Problem> fresh;
    for (const Problem& p : problems) {
        if (m_listed.insert(problemKey(p)).second) {
            fresh.push_back(p);
        }
    }
    if (fresh.empty()) {
        return;
    }
    beginInsertRows({}, int(m_problems.size()), int(m_problems.size() + fresh.size()) - 1);
    m_problems.insert(m_problems.end(), fresh.begin(), fresh.end());
    endInsertRows();
}

int ProblemListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_problems.size());
}

int ProblemListModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : 2;
}

QVariant ProblemListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || std::size_t(index.row()) >= m_problems.size()) {
        return {};
    }
    const Problem& p = m_problems[std::size_t(index.row())];
    if (role == Qt::DisplayRole || role == Qt::ToolTipRole) {
        return index.column() == 0 ? text(p.path) : text(p.reason);
    }
    return {};
}

QVariant ProblemListModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) {
        return {};
    }
    return section == 0 ? tr("File") : tr("Problem");
}

} // namespace radiolens
