#include "ui/StudyBrowserModel.h"

#include "core/tasks/StudyTreeModel.h"

namespace radiolens {

StudyBrowserModel::StudyBrowserModel(QObject* parent)
    : QSortFilterProxyModel(parent) {
    setRecursiveFilteringEnabled(true); // a matching series keeps its study and patient
}

void StudyBrowserModel::setSearchText(const QString& text) {
    m_search = text.trimmed().toLower();
    invalidateFilter();
}

void StudyBrowserModel::setThumbnail(const QString& seriesInstanceUid, const QPixmap& picture) {
    m_thumbnails.insert(seriesInstanceUid, picture);
    // The series row grows to the picture (thumbnails arrive one by one).
    if (auto* tree = qobject_cast<StudyTreeModel*>(sourceModel())) {
        const QModelIndex row = mapFromSource(tree->indexOfSeries(seriesInstanceUid));
        if (row.isValid()) {
            Q_EMIT dataChanged(row, row, {Qt::DecorationRole, Qt::SizeHintRole});
        }
    }
}

void StudyBrowserModel::clearThumbnails() {
    m_thumbnails.clear();
}

QVariant StudyBrowserModel::data(const QModelIndex& index, int role) const {
    if (role == Qt::DecorationRole && index.column() == 0 &&
        index.data(StudyTreeModel::LevelRole).toInt() == StudyTreeModel::SeriesLevel) {
        const auto it = m_thumbnails.find(index.data(StudyTreeModel::SeriesUidRole).toString());
        if (it != m_thumbnails.end()) {
            return *it;
        }
    }
    return QSortFilterProxyModel::data(index, role);
}

bool StudyBrowserModel::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    if (m_search.isEmpty()) {
        return true;
    }
    // A row matches itself, or through an ancestor (a patient's name shows all its series):
    // the tree model keeps each row's text with its ancestors', lower case.
    const QModelIndex row = sourceModel()->index(sourceRow, 0, sourceParent);
    return row.data(StudyTreeModel::SearchTextRole).toString().contains(m_search);
}

} // namespace radiolens
