#pragma once

#include "core/domain/StudyIndex.h"

#include <QAbstractItemModel>
#include <QHash>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace radiolens {

/// Patient -> Study -> Series tree of a StudyIndex for views, with one more level for series of
/// several projection radiographs (each image is its own view). Columns: name or description,
/// modality, date, number of instances. Series and image rows carry the SeriesInstanceUID in
/// SeriesUidRole; image rows also their file in InstancePathRole. GUI thread only; replace the
/// index with setIndex().
class StudyTreeModel : public QAbstractItemModel {
    Q_OBJECT
public:
    enum Column { NameColumn, ModalityColumn, DateColumn, InstancesColumn, ColumnCount };
    /// SearchTextRole: the row's text and its ancestors', lower case, for the browser's search
    /// (built on first use, once per index).
    enum Role { SeriesUidRole = Qt::UserRole + 1, LevelRole, InstancePathRole, SearchTextRole };
    enum Level { PatientLevel, StudyLevel, SeriesLevel, InstanceLevel };

    explicit StudyTreeModel(QObject* parent = nullptr);

    void setIndex(std::shared_ptr<const StudyIndex> index);
    const std::shared_ptr<const StudyIndex>& studyIndex() const { return m_index; }
    /// A note shown after a study's description, e.g. "incomplete: 12 of 28 images" for a
    /// retrieval that was cut off (empty removes it). The note is kept across setIndex().
    void setStudyNote(const QString& studyInstanceUid, const QString& note);
    QString studyNote(const QString& studyInstanceUid) const;
    /// The series row with this UID, or an invalid index.
    QModelIndex indexOfSeries(const QString& seriesInstanceUid) const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;
    /// Series and image rows can be dragged onto a viewport.
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QStringList mimeTypes() const override;
    /// "seriesUid\nimagePath" as application/x-radiolens-series.
    QMimeData* mimeData(const QModelIndexList& indexes) const override;

private:
    /// A node of the tree: which patient, study, series and image it stands for (-1 above its
    /// level).
    struct Node {
        int patient = -1;
        int study = -1;
        int series = -1;
        int instance = -1;
    };
    const Node* nodeOf(const QModelIndex& index) const;
    int nodeId(int patient, int study, int series, int instance = -1) const;
    static bool listsImages(const SeriesEntry& series);

    std::shared_ptr<const StudyIndex> m_index;
    QHash<QString, QString> m_studyNotes; ///< by Study Instance UID
    std::vector<Node> m_nodes; ///< every node, so that indexes can point at stable storage
    /// SearchTextRole by node id; empty until the first search asks for it.
    mutable std::vector<QString> m_searchText;
    const QString& searchText(int nodeId) const;
    std::vector<std::vector<int>> m_studyNodes; ///< [patient][study] -> node id
    std::vector<int> m_patientNodes;
    std::vector<std::vector<std::vector<int>>> m_seriesNodes;
    std::vector<std::vector<std::vector<std::vector<int>>>> m_instanceNodes;
};

/// Problems found while indexing or loading, as a two-column table: file and reason.
class ProblemListModel : public QAbstractTableModel {
    Q_OBJECT
public:
    explicit ProblemListModel(QObject* parent = nullptr);

    void setProblems(std::vector<Problem> problems);
    void addProblems(const std::vector<Problem>& problems);
    const std::vector<Problem>& problems() const { return m_problems; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    std::vector<Problem> m_problems;
    std::unordered_set<std::string> m_listed; ///< path and reason of each listed problem
};

} // namespace radiolens
